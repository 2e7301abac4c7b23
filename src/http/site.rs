//! The Site: files, routes, limits, the Date line, canned heads.
//!
//! What a connection is lent to answer requests, whatever the protocol:
//! the [`Site`] (files, routes, limits, the `Date` line, the pre-rendered
//! heads). Each session reads it through its
//! [`SessionLoan`](crate::http::session::SessionLoan).

use std::rc::Rc;

use crate::config::Limits;
use crate::date::DateLine;
use crate::http::answer::Routes;
use crate::http::files::Files;
use crate::http1::heads::Canned;

/// What every session reads: the site being served. The files, the
/// pre-rendered responses, the current `Date` line and the limits.
#[derive(Debug)]
pub struct Site {
    /// The document root and its cache.
    pub files: Files,
    /// Heads of responses that depend on the status alone.
    pub canned: Canned,
    /// The `Date` line of the current second; the loop brings it up to
    /// date once per wakeup.
    pub date: DateLine,
    /// Request size limits.
    pub limits: Limits,
    /// The pages that are not files, and the redirect to HTTPS.
    pub routes: Routes,
    /// HTTP/2 is on (`--http2`).
    pub http2: bool,
    /// `--hsts`: the value of the `Strict-Transport-Security` field HTTPS
    /// responses carry (`max-age=N`).
    pub hsts: Option<Box<[u8]>>,
    /// The Date line with the HSTS line after it, for HTTPS responses:
    /// rendered with the Date line, once a second.
    pub(crate) secure_date: Rc<[u8]>,
}

impl Site {
    /// A site serving `files` with everything else at its default.
    pub fn new(files: Files, date: DateLine, limits: Limits) -> Site {
        Site {
            files,
            canned: Canned::default(),
            date,
            limits,
            routes: Routes::default(),
            http2: true,
            hsts: None,
            secure_date: Rc::from(&b""[..]),
        }
    }

    /// The site a configuration describes, at wall time `now`; `ports` are
    /// the first of each service's bound (the HTTPS one for
    /// `--redirect-https`, all of them for the embedded index page).
    pub fn configure(
        config: &crate::config::Config,
        now: std::time::SystemTime,
        ports: &crate::http::welcome::Ports,
    ) -> std::io::Result<Site> {
        let https_port = ports.https;
        let mut files = Files::new(
            config.root.as_deref(),
            config.cache_file_max,
            config.cache_total_max,
        )?;
        files.serve_dotfiles(config.dotfiles);
        files.list_dirs(config.list_dirs);
        files.set_cache_control(config.cache_control.as_deref());
        files.set_ports(ports);
        let mut site = Site::new(files, DateLine::default(), config.limits);
        site.http2 = config.http2;
        site.routes.metrics_path = config.metrics_path.as_deref().map(|p| p.as_bytes().into());
        site.routes.health_path = config.health_path.as_deref().map(|p| p.as_bytes().into());
        if config.redirect_https {
            let Some(port) = https_port else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "--redirect-https needs an --https address",
                ));
            };
            site.routes.redirect_https = Some(port);
        }
        site.hsts = (config.hsts).map(|secs| format!("max-age={secs}").into_bytes().into());
        site.refresh(now);
        Ok(site)
    }

    /// Brings the Date line (and its HTTPS twin) up to `now`.
    pub fn refresh(&mut self, now: std::time::SystemTime) {
        let second = self.date.second();
        self.date.update(now);
        if let Some(hsts) = &self.hsts
            && (second != self.date.second() || self.secure_date.is_empty())
        {
            let line: &[&[u8]] = &[
                self.date.line(),
                b"Strict-Transport-Security: ",
                hsts,
                b"\r\n",
            ];
            self.secure_date = line.concat().into();
        }
    }

    /// The Date line for a response, with the HSTS line on HTTPS when
    /// configured; both are shared by every response of the second.
    pub fn date_line(&self, secure: bool) -> &Rc<[u8]> {
        if secure && self.hsts.is_some() {
            &self.secure_date
        } else {
            self.date.line()
        }
    }

    /// The current Unix second (0 if the clock cannot tell).
    pub(crate) fn now(&self) -> u64 {
        self.date.second().unwrap_or(0)
    }
}
