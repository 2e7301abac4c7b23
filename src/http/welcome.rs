//! The embedded index page, rendered once at start-up with the ports actually served.
//!
//! The page tells a newcomer how to ask the server for a file and for the
//! time. A fixed page would name the default ports whatever was bound (and
//! under the Debian package's units the ports are 80 and 37), so the
//! template in `src/site/index.html` marks what depends on the
//! configuration: `<!--NAME-->...<!--/NAME-->` blocks for the services
//! (`http`, `h2`, `https`, `time`), kept or dropped, and `@NAME_PORT@`
//! for their ports. The result is rendered once and shared by every
//! response, like any cached file.

/// The first port of each service, `None` where it is not served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ports {
    /// The first plain HTTP listener's.
    pub http: Option<u16>,
    /// The first HTTPS listener's.
    pub https: Option<u16>,
    /// The first RFC 868 address's.
    pub time: Option<u16>,
    /// Whether HTTP/2 is offered.
    pub http2: bool,
    /// HTTP/3's UDP port, when it is served.
    pub http3: Option<u16>,
}

/// `template` with each block kept or dropped and each port filled in.
pub fn render(template: &str, ports: &Ports) -> String {
    let mut page = template.to_string();
    let blocks = [
        ("http", ports.http.is_some()),
        ("h2", ports.http2 && ports.http.is_some()),
        ("https", ports.https.is_some()),
        ("time", ports.time.is_some()),
    ];
    for (name, keep) in blocks {
        let (open, close) = (format!("<!--{name}-->"), format!("<!--/{name}-->"));
        while let Some(start) = page.find(&open) {
            let Some(end) = page[start..].find(&close).map(|i| start + i) else {
                break;
            };
            // A dropped block takes the line end after it too.
            let after = end + close.len();
            let after = after + usize::from(page[after..].starts_with('\n'));
            let kept = match keep {
                true => page[start + open.len()..end].to_string(),
                false => String::new(),
            };
            page.replace_range(start..after, &kept);
        }
    }
    for (token, port) in [
        ("@HTTP_PORT@", ports.http),
        ("@HTTPS_PORT@", ports.https),
        ("@TIME_PORT@", ports.time),
    ] {
        page = page.replace(token, &port.map_or(String::new(), |p| p.to_string()));
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../site/index.html");

    #[test]
    fn the_page_names_the_ports_served_and_nothing_else() {
        let page = render(
            TEMPLATE,
            &Ports {
                http: Some(80),
                https: None,
                time: Some(37),
                http2: true,
                http3: None,
            },
        );
        assert!(page.contains(":80/hello.txt"), "{page}");
        assert!(page.contains("--http2-prior-knowledge"));
        assert!(page.contains("rdate -p -o 37 "));
        assert!(page.contains("HTTP/2"));
        assert!(!page.contains("https://"), "no HTTPS served: {page}");
        for leftover in ["@", "<!--", "8080", "3737"] {
            assert!(!page.contains(leftover), "{leftover} left in {page}");
        }
        let page = render(
            TEMPLATE,
            &Ports {
                http: Some(8080),
                https: Some(8443),
                time: None,
                http2: false,
                http3: None,
            },
        );
        assert!(page.contains(":8443/hello.txt"));
        assert!(!page.contains("--http2-prior-knowledge"));
        assert!(!page.contains("rdate"), "no time service: {page}");
    }
}
