//! Signed-in browsers: a session per sign-in, named by a random token in a cookie that is
//! `HttpOnly` (no script reads it) and `SameSite=Strict` (no other site's page sends it), and
//! a CSRF token per session that every state-changing request from the page must carry
//! besides (a form field, or the `X-CSRF-Token` header of the page's own `fetch`).
//!
//! Sessions live in memory: a restart signs everyone out, which for a shop's back office is
//! the safe side. They are kept by the SHA-256 of their token, end after [`IDLE_LIMIT`]
//! without a request (the live inbox's stream does not count as one), [`LIFETIME`] after
//! signing in, and when the business's key is replaced; at most [`MAX_SESSIONS`] are held
//! (the least recently used goes first), so signing in in a loop cannot grow memory.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use parking_lot::Mutex;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The cookie's name.
pub const COOKIE: &str = "clerk_session";
/// A session no request has used for this long is gone.
pub const IDLE_LIMIT: Duration = Duration::from_secs(8 * 60 * 60);
/// However busy, a session ends this long after signing in.
pub const LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
const MAX_SESSIONS: usize = 1024;

/// What a signed-in browser may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Signed in with the admin token: may pick any business.
    pub admin: bool,
    /// The one business this session acts for (None: an admin who has not picked yet).
    pub business: Option<String>,
    pub csrf: String,
}

struct Held {
    session: Session,
    opened: Instant,
    last_used: Instant,
}

impl Held {
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.last_used) < IDLE_LIMIT
            && now.duration_since(self.opened) < LIFETIME
    }
}

/// Every signed-in browser of this process.
#[derive(Default)]
pub struct Sessions {
    held: Mutex<HashMap<[u8; 32], Held>>,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn key_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equal in time that depends only on the lengths.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// A new session; returns the token for its cookie.
    pub fn open(&self, admin: bool, business: Option<String>) -> (String, Session) {
        let token = random_hex();
        let session = Session {
            admin,
            business,
            csrf: random_hex(),
        };
        let mut held = self.held.lock();
        let now = Instant::now();
        held.retain(|_, h| h.live(now));
        if held.len() >= MAX_SESSIONS {
            if let Some(oldest) = held
                .iter()
                .min_by_key(|(_, h)| h.last_used)
                .map(|(k, _)| *k)
            {
                held.remove(&oldest);
            }
        }
        held.insert(
            key_of(&token),
            Held {
                session: session.clone(),
                opened: now,
                last_used: now,
            },
        );
        (token, session)
    }

    /// The session of `token`, if it is still held; using it keeps it alive.
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut held = self.held.lock();
        let key = key_of(token);
        let now = Instant::now();
        match held.get_mut(&key) {
            Some(h) if h.live(now) => {
                h.last_used = now;
                Some(h.session.clone())
            }
            Some(_) => {
                held.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Whether `token`'s session is still held, without counting as its use.
    pub fn alive(&self, token: &str) -> bool {
        self.held
            .lock()
            .get(&key_of(token))
            .is_some_and(|h| h.live(Instant::now()))
    }

    /// Ends every session signed in with `business`'s key (it was replaced); an admin's
    /// sessions stay.
    pub fn close_business(&self, business: &str) {
        self.held
            .lock()
            .retain(|_, h| h.session.admin || h.session.business.as_deref() != Some(business));
    }

    /// An admin's session now acts for `business`.
    pub fn pick(&self, token: &str, business: String) {
        if let Some(h) = self.held.lock().get_mut(&key_of(token)) {
            if h.session.admin {
                h.session.business = Some(business);
            }
        }
    }

    pub fn close(&self, token: &str) {
        self.held.lock().remove(&key_of(token));
    }

    /// The session the request's cookie names, with its token.
    pub fn of_request(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let token = cookie(headers, COOKIE)?;
        self.get(&token).map(|s| (token, s))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// The `Set-Cookie` value for a session's token (or, with None, one that removes it).
/// `Secure` when the request reached us over TLS through a proxy that says so.
pub fn set_cookie(token: Option<&str>, headers: &HeaderMap) -> String {
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let (value, age) = match token {
        Some(t) => (t, IDLE_LIMIT.as_secs()),
        None => ("", 0),
    };
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// False when the request says it comes from another site's page (`Origin` or, without one,
/// `Referer`, naming another host than `Host`). A browser sends `Origin` on every POST.
/// Behind a reverse proxy the proxy must pass the browser's `Host` on (nginx:
/// `proxy_set_header Host $host`).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        None => true,
        Some(url) => {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))
                .unwrap_or("");
            rest.split('/')
                .next()
                .is_some_and(|from| from.eq_ignore_ascii_case(host))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_token_only_and_ends_when_closed() {
        let sessions = Sessions::default();
        let (token, session) = sessions.open(false, Some("shop".into()));
        assert_eq!(sessions.get(&token), Some(session.clone()));
        assert_eq!(
            sessions.get(&session.csrf),
            None,
            "the CSRF token is no key"
        );
        sessions.pick(&token, "other".into());
        assert_eq!(
            sessions.get(&token).unwrap().business.as_deref(),
            Some("shop"),
            "only an admin picks a business"
        );
        assert!(sessions.alive(&token));
        sessions.close(&token);
        assert_eq!(sessions.get(&token), None);
        assert!(!sessions.alive(&token));
    }

    #[test]
    fn replacing_a_key_ends_the_sessions_opened_with_it() {
        let sessions = Sessions::default();
        let (shop, _) = sessions.open(false, Some("shop".into()));
        let (other, _) = sessions.open(false, Some("other".into()));
        let (admin, _) = sessions.open(true, None);
        sessions.pick(&admin, "shop".into());
        sessions.close_business("shop");
        assert_eq!(sessions.get(&shop), None);
        assert!(sessions.get(&other).is_some());
        assert!(
            sessions.get(&admin).is_some(),
            "the admin token was not replaced"
        );
    }

    #[test]
    fn sessions_are_bounded() {
        let sessions = Sessions::default();
        let (first, _) = sessions.open(true, None);
        for _ in 0..MAX_SESSIONS {
            sessions.open(true, None);
        }
        assert!(sessions.held.lock().len() <= MAX_SESSIONS);
        assert_eq!(sessions.get(&first), None, "the least recently used went");
    }

    #[test]
    fn cookies_and_origins_are_read_strictly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; clerk_session=abc ; b=2".parse().unwrap(),
        );
        headers.insert(header::HOST, "shop.example:8080".parse().unwrap());
        assert_eq!(cookie(&headers, COOKIE).as_deref(), Some("abc"));
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://shop.example:8080".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&headers));
        let set = set_cookie(Some("abc"), &headers);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(!set.contains("Secure"));
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(set_cookie(Some("abc"), &headers).ends_with("; Secure"));
    }
}
