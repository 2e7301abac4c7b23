//! The Site: files, routes, limits, the Date line, and what HTTPS answers carry.
//!
//! What a connection is lent to answer requests, whatever the protocol:
//! the [`Site`] (files, routes, limits, the `Date` line, what HTTPS answers carry). Each session reads it through its
//! [`SessionLoan`](crate::http::session::SessionLoan).

use crate::config::Limits;
use crate::date::DateLine;
use crate::http::answer::Routes;
use crate::http::entry::PerSecond;
use crate::http::files::Files;
use crate::http::grammar::KnownHost;
use crate::http::status::Secure;

/// What every session reads: the site being served. The files, the
/// routes, the current `Date` line and the limits.
#[derive(Debug)]
pub struct Site {
    /// The document root and its cache.
    pub files: Files,
    /// The `Date` line of the current second; the loop brings it up to
    /// date once per wakeup.
    pub date: DateLine,
    /// Request size limits.
    pub limits: Limits,
    /// The pages that are not files, and the redirect to HTTPS.
    pub routes: Routes,
    /// The `Host` value last found valid on any connection, not checked
    /// again: a keep-alive client sends the same one with every request,
    /// and most clients of a site send the same one.
    pub known_host: KnownHost,
    /// HTTP/2 is on (`--http2`).
    pub http2: bool,
    /// The fields HTTPS answers carry: HSTS, Alt-Svc.
    pub secure: Secure,
    /// HTTP/1.x's Date line with HTTPS's field lines after it, rendered
    /// by `crate::http1` once a second.
    pub date_secure: PerSecond<1>,
}

impl Site {
    /// A site serving `files` with everything else at its default.
    pub fn new(files: Files, date: DateLine, limits: Limits) -> Site {
        Site {
            files,
            date,
            limits,
            routes: Routes::default(),
            known_host: KnownHost::default(),
            http2: true,
            secure: Secure::default(),
            date_secure: PerSecond::default(),
        }
    }

    /// The site a configuration describes, at wall time `now`; `ports` are
    /// the first of each service's bound (the HTTPS one for
    /// `--redirect-https` and HTTP/3's for Alt-Svc, unless clients reach
    /// them at another, all of them for the embedded index page).
    pub fn configure(
        config: &crate::config::Config,
        now: std::time::SystemTime,
        ports: &crate::http::welcome::Ports,
    ) -> std::io::Result<Site> {
        let public = config.public_https_port;
        if public.is_some() && ports.https.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "--public-https-port needs an --https address",
            ));
        }
        let https_port = ports.https.map(|bound| public.unwrap_or(bound));
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
        site.secure = Secure {
            hsts: (config.hsts).map(|secs| format!("max-age={secs}").into_bytes().into()),
            // A day: a browser that saw it comes back over HTTP/3 until
            // then, and over TCP again if QUIC fails.
            alt_svc: (ports.http3).map(|bound| {
                let port = public.unwrap_or(bound);
                format!("h3=\":{port}\"; ma=86400").into_bytes().into()
            }),
        };
        site.refresh(now);
        Ok(site)
    }

    /// Brings the Date line up to `now`.
    pub fn refresh(&mut self, now: std::time::SystemTime) {
        self.date.update(now);
    }

    /// The current Unix second (0 if the clock cannot tell).
    pub(crate) fn now(&self) -> u64 {
        self.date.second().unwrap_or(0)
    }
}
