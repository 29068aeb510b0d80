//! The web session's guards, read off the HTTP responses (no browser needed): the cookie's
//! flags, sign-in refused for an unknown key or from another site, the CSRF token required
//! for every change made with the cookie, a session acting for its own business only, the
//! admin's pick, and signing out ending the session.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::json;

use super::{Rig, SHOP};
use crate::support::ADMIN;

fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// Signs in with `key`; the session cookie (`name=value`) and the whole `Set-Cookie`.
async fn sign_in(rig: &Rig, key: &str) -> (String, String) {
    let response = client()
        .post(format!("{}/app/login", rig.base))
        .form(&[("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let pair = set.split(';').next().unwrap().to_string();
    (pair, set)
}

/// The CSRF token the page carries for the session `cookie`.
async fn csrf_of(rig: &Rig, cookie: &str, path: &str) -> String {
    let page = client()
        .get(format!("{}{path}", rig.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "{path}");
    let body = page.text().await.unwrap();
    let start = body
        .find("data-csrf=\"")
        .expect("the page carries its CSRF token")
        + 11;
    body[start..start + 64].to_string()
}

#[tokio::test]
async fn a_session_cookie_is_strict_and_changes_need_its_csrf_token() {
    let rig = Rig::start().await;
    let http = client();

    let sign_in_page = http.get(format!("{}/app", rig.base)).send().await.unwrap();
    assert_eq!(sign_in_page.status(), StatusCode::OK);
    let policy = sign_in_page.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    let away = http
        .get(format!("{}/app/inbox", rig.base))
        .send()
        .await
        .unwrap();
    assert_eq!(away.status(), StatusCode::SEE_OTHER);
    assert_eq!(away.headers()[LOCATION], "/app");

    let wrong = http
        .post(format!("{}/app/login", rig.base))
        .form(&[("key", "clerk_not-a-key")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    let forged = http
        .post(format!("{}/app/login", rig.base))
        .header("origin", "https://evil.example")
        .form(&[("key", rig.key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "no sign-in from another site"
    );

    let (cookie, set) = sign_in(&rig, &rig.key).await;
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    assert!(!set.contains(&rig.key), "the cookie is no key");

    // Reads need only the cookie; a change needs the page's token too.
    let documents = format!("{}/v1/businesses/{SHOP}/documents", rig.base);
    let read = http
        .get(&documents)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let upload =
        json!({"documents": [{"name": "faq.md", "content": "# FAQ\n\n## Offen?\n\nJa.\n"}]});
    let without = http
        .post(&documents)
        .header(COOKIE, &cookie)
        .json(&upload)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = without.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf");
    let csrf = csrf_of(&rig, &cookie, "/app/documents").await;
    let from_elsewhere = http
        .post(&documents)
        .header(COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", "https://evil.example")
        .json(&upload)
        .send()
        .await
        .unwrap();
    assert_eq!(from_elsewhere.status(), StatusCode::FORBIDDEN);
    let with = http
        .post(&documents)
        .header(COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .json(&upload)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), StatusCode::OK);

    // The session acts for its own business only.
    let engine = rig.engine.clone();
    tokio::task::spawn_blocking(move || {
        engine.create_business("nachbar", None, Some("de")).unwrap()
    })
    .await
    .unwrap();
    let other = http
        .get(format!("{}/v1/businesses/nachbar/documents", rig.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);

    // Signing out ends it, also for the API.
    let logout = http
        .post(format!("{}/app/logout", rig.base))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert!(logout.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = http
        .get(&documents)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_admin_picks_a_business_and_then_acts_for_it_alone() {
    let rig = Rig::start().await;
    let http = client();
    let (cookie, _) = sign_in(&rig, ADMIN).await;
    let entry = http
        .get(format!("{}/app", rig.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(entry.headers()[LOCATION], "/app/pick");
    let unpicked = http
        .get(format!("{}/v1/businesses/{SHOP}/documents", rig.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        unpicked.status(),
        StatusCode::UNAUTHORIZED,
        "the admin's cookie is no admin token"
    );
    let csrf = csrf_of(&rig, &cookie, "/app/pick").await;
    let forged = http
        .post(format!("{}/app/pick", rig.base))
        .header(COOKIE, &cookie)
        .form(&[("csrf", "0".repeat(64).as_str()), ("business", SHOP)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.headers()[LOCATION],
        "/app",
        "a wrong token picks nothing"
    );
    let picked = http
        .post(format!("{}/app/pick", rig.base))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("business", SHOP)])
        .send()
        .await
        .unwrap();
    assert_eq!(picked.headers()[LOCATION], "/app/documents");
    let documents = http
        .get(format!("{}/v1/businesses/{SHOP}/documents", rig.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(documents.status(), StatusCode::OK);
    let businesses = http
        .get(format!("{}/v1/businesses", rig.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let listed: serde_json::Value = businesses.json().await.unwrap();
    assert_eq!(
        listed.as_array().map(|l| l.len()),
        Some(1),
        "the picked business alone, as for its own key: {listed}"
    );
    assert_eq!(listed[0]["id"], SHOP);

    // The shop's key is replaced: a browser signed in with the old one is signed out; the
    // admin's is not.
    let (shop_cookie, _) = sign_in(&rig, &rig.key).await;
    let documents = format!("{}/v1/businesses/{SHOP}/documents", rig.base);
    let before = http
        .get(&documents)
        .header(COOKIE, &shop_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), StatusCode::OK);
    let rotated = http
        .post(format!("{}/v1/businesses/{SHOP}/keys", rig.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), StatusCode::OK);
    let after = http
        .get(&documents)
        .header(COOKIE, &shop_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    let admins = http
        .get(&documents)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(admins.status(), StatusCode::OK);
}
