//! HTTP/1.0 and HTTP/1.1 static files (RFC 9110, RFC 9112).
//!
//! From the bytes up: [`request`] parses heads and decides framing,
//! [`body`] skips bodies, [`files`] maps targets to cached files,
//! [`response`] queues responses as shared chunks, [`session`] is the
//! per-connection exchange (pure), and [`conn`] puts a session on a socket.

pub mod answer;
pub mod body;
pub mod conditional;
pub mod conn;
pub mod edge;
pub mod files;
pub mod grammar;
pub mod mime;
pub mod negotiate;
pub mod path;
pub mod pool;
pub mod range;
pub mod request;
pub mod resolve;
pub mod response;
pub mod session;
pub mod status;
