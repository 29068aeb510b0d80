//! The business's web page under `/app`: sign in with the business's API key (or the admin
//! token, then pick a business), and then its documents, a place to try questions as a
//! customer would, the inbox of conversations (waiting for a person first, live), the
//! orders and the settings.
//!
//! Pages are rendered here from engine calls (`pages`, in the browser's language: `words`);
//! what the page changes it changes through the same JSON API every client uses (`/v1/…`),
//! authorized by the session cookie and its CSRF token (`session`, read by `http::auth`), so
//! the page shows the API's own error messages and there is no second write path to keep in
//! step. The script and style are compiled into the binary (`assets/`).
//!
//! The live inbox is a Server-Sent Events stream that polls the store's inbox stamp twice a
//! second and says "changed"; the page then fetches the fragment it shows. Polling one
//! indexed count per open page is cheap for a shop, and it sees every writer (the WhatsApp
//! workers, the API, another process) without each having to announce itself.

mod pages;
pub mod session;
mod words;

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use futures_util::stream::{self, Stream};
use maud::Markup;
use serde::Deserialize;

pub use session::Sessions;

use super::auth::is_admin_token;
use super::handlers::blocking;
use super::AppState;
use crate::store::Business;
use pages::{Frame, Tab, WhatsAppView};
use session::Session;
use words::{Lang, LANG_COOKIE};

/// The conversations "try it" makes start so (the script names them): the owner's own
/// questions, not a customer's, so the inbox leaves them out.
const TRY_PREFIX: &str = "try-";

/// The inbox as the page lists it.
fn listed(
    engine: &crate::engine::Engine,
    business: &str,
) -> Result<Vec<crate::store::ConversationSummary>, crate::engine::EngineError> {
    let mut list = engine.inbox(business, INBOX_LIMIT)?;
    list.retain(|c| !c.id.starts_with(TRY_PREFIX));
    Ok(list)
}

/// How often the live inbox looks at the store's stamp.
const LIVE_POLL: Duration = Duration::from_millis(500);
/// The most conversations the inbox lists.
const INBOX_LIMIT: usize = 200;

const STYLE: &str = include_str!("assets/app.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// The page's routes, merged into the API's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app", get(entry))
        .route("/app/", get(entry))
        .route("/app/login", post(login))
        .route("/app/logout", post(logout))
        .route("/app/pick", get(pick_page).post(pick))
        .route("/app/documents", get(documents))
        .route("/app/try", get(try_it))
        .route("/app/inbox", get(inbox))
        .route("/app/inbox/{conversation}", get(conversation))
        .route("/app/live/inbox", get(inbox_fragment))
        .route("/app/live/inbox/{conversation}", get(turns_fragment))
        .route("/app/events", get(events))
        .route("/app/orders", get(orders))
        .route("/app/settings", get(settings))
        .route("/app/assets/app.css", get(style))
        .route("/app/assets/app.js", get(script))
        .layer(axum::middleware::map_response(protect))
}

/// Headers every page response carries: no script, style or frame from elsewhere, nothing
/// cached, no referrer leaving the site.
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: under it a browser sends `Origin: null` with the page's own
        // form posts, and the origin check could not tell them from another site's.
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLE,
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        SCRIPT,
    )
}

#[derive(Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
}

/// The page's language: `?lang=` (remembered in a cookie), else the cookie, else the browser.
fn language(headers: &HeaderMap, query: &LangQuery) -> (Lang, Option<String>) {
    match query.lang.as_deref().and_then(Lang::parse) {
        Some(lang) => (
            lang,
            Some(format!(
                "{LANG_COOKIE}={}; Path=/app; SameSite=Strict; Max-Age=31536000",
                lang.code()
            )),
        ),
        None => (Lang::of_request(headers), None),
    }
}

/// A rendered page, with the language cookie when it was just chosen.
fn html(markup: Markup, lang_cookie: Option<String>) -> Response {
    let mut response = Html(markup.into_string()).into_response();
    if let Some(cookie) = lang_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn to_sign_in() -> Response {
    Redirect::to("/app").into_response()
}

/// To the sign-in page, with the session cookie removed.
fn signed_out(headers: &HeaderMap) -> Response {
    let mut response = to_sign_in();
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(None, headers)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A signed-in request: its session and the business it acts for. Otherwise the response
/// that sends the browser to sign in (or, for an admin, to pick a business).
struct SignedIn {
    session: Session,
    business: Business,
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<SignedIn, Response> {
    let (token, session) = state.sessions.of_request(headers).ok_or_else(to_sign_in)?;
    let Some(id) = session.business.clone() else {
        return Err(Redirect::to("/app/pick").into_response());
    };
    match blocking(state, move |e| e.business(&id)).await {
        Ok(business) => Ok(SignedIn { session, business }),
        // The business is gone: so is the session (else /app would send it back here).
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            state.sessions.close(&token);
            Err(signed_out(headers))
        }
        Err(e) => {
            let lang = Lang::of_request(headers);
            Err((e.status, html(pages::message(lang, &e.message), None)).into_response())
        }
    }
}

/// An engine call for a page; its failure becomes a page saying what went wrong.
async fn load<T: Send + 'static>(
    state: &AppState,
    lang: Lang,
    call: impl FnOnce(&crate::engine::Engine) -> Result<T, crate::engine::EngineError> + Send + 'static,
) -> Result<T, Response> {
    blocking(state, call)
        .await
        .map_err(|e| (e.status, html(pages::message(lang, &e.message), None)).into_response())
}

async fn entry(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Query<LangQuery>,
) -> Response {
    match state.sessions.of_request(&headers) {
        Some((_, s)) if s.business.is_some() => Redirect::to(Tab::Documents.path()).into_response(),
        Some(_) => Redirect::to("/app/pick").into_response(),
        None => {
            let (lang, cookie) = language(&headers, &query);
            html(pages::sign_in(lang, None), cookie)
        }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    key: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = Lang::of_request(&headers);
    if !session::same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            html(pages::sign_in(lang, Some(lang.words().wrong_key)), None),
        )
            .into_response();
    }
    let key = form.key.trim().to_string();
    let admin = !key.is_empty() && is_admin_token(&state, &key);
    let business = if admin || key.is_empty() {
        None
    } else {
        blocking(&state, move |e| e.business_for_key(&key))
            .await
            .ok()
            .flatten()
    };
    if !admin && business.is_none() {
        tracing::info!("a sign-in to the web page was refused");
        return (
            StatusCode::UNAUTHORIZED,
            html(pages::sign_in(lang, Some(lang.words().wrong_key)), None),
        )
            .into_response();
    }
    // A session this browser had before ends: one sign-in, one session.
    if let Some((old, _)) = state.sessions.of_request(&headers) {
        state.sessions.close(&old);
    }
    let (token, _) = state.sessions.open(admin, business.clone());
    tracing::info!(
        admin,
        business = business.as_deref(),
        "signed in to the web page"
    );
    let mut response = Redirect::to("/app").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(Some(&token), &headers)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
    #[serde(default)]
    business: Option<String>,
}

/// The session a form post acts on, when its CSRF field is the session's and it comes from
/// this site.
fn posted(state: &AppState, headers: &HeaderMap, form: &CsrfForm) -> Option<(String, Session)> {
    let (token, session) = state.sessions.of_request(headers)?;
    (session::same(&form.csrf, &session.csrf) && session::same_origin(headers))
        .then_some((token, session))
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    match posted(&state, &headers, &form) {
        Some((token, _)) => {
            state.sessions.close(&token);
            signed_out(&headers)
        }
        // Another site's page cannot sign the person out either.
        None => to_sign_in(),
    }
}

async fn pick_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Query<LangQuery>,
) -> Response {
    let (lang, cookie) = language(&headers, &query);
    let Some((_, session)) = state.sessions.of_request(&headers).filter(|(_, s)| s.admin) else {
        return to_sign_in();
    };
    match load(&state, lang, |e| e.businesses()).await {
        Ok(businesses) => html(pages::pick(lang, &session.csrf, &businesses), cookie),
        Err(page) => page,
    }
}

async fn pick(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some((token, session)) = posted(&state, &headers, &form).filter(|(_, s)| s.admin) else {
        return to_sign_in();
    };
    let Some(business) = form.business.clone() else {
        return Redirect::to("/app/pick").into_response();
    };
    let lang = Lang::of_request(&headers);
    let id = business.clone();
    if let Err(page) = load(&state, lang, move |e| e.business(&id)).await {
        return page;
    }
    state.sessions.pick(&token, business);
    drop(session);
    Redirect::to(Tab::Documents.path()).into_response()
}

/// Renders tab `tab` for a signed-in browser with `render`, from what `call` loads.
async fn tab_page<T: Send + 'static>(
    state: &AppState,
    headers: &HeaderMap,
    query: &LangQuery,
    tab: Tab,
    call: impl FnOnce(&crate::engine::Engine, &str) -> Result<T, crate::engine::EngineError>
        + Send
        + 'static,
    render: impl FnOnce(&Frame, T) -> Markup,
) -> Response {
    let (lang, cookie) = language(headers, query);
    let signed = match signed_in(state, headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let id = signed.business.id.clone();
    let loaded = match load(state, lang, move |e| call(e, &id)).await {
        Ok(loaded) => loaded,
        Err(page) => return page,
    };
    let frame = Frame {
        lang,
        business: &signed.business,
        csrf: &signed.session.csrf,
        admin: signed.session.admin,
        tab,
    };
    html(render(&frame, loaded), cookie)
}

async fn documents(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Query<LangQuery>,
) -> Response {
    tab_page(
        &state,
        &headers,
        &query,
        Tab::Documents,
        |e, b| Ok((e.documents(b)?, e.embedding_model())),
        |frame, (docs, model)| pages::documents(frame, &docs, model.as_deref()),
    )
    .await
}

async fn try_it(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Query<LangQuery>,
) -> Response {
    tab_page(
        &state,
        &headers,
        &query,
        Tab::Try,
        |e, _| Ok(e.limits().max_question_chars),
        pages::try_it,
    )
    .await
}

async fn inbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Query<LangQuery>,
) -> Response {
    tab_page(
        &state,
        &headers,
        &query,
        Tab::Inbox,
        listed,
        |frame, list| pages::inbox(frame, &list),
    )
    .await
}

async fn conversation(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Query<LangQuery>,
    Path(id): Path<String>,
) -> Response {
    tab_page(
        &state,
        &headers,
        &query,
        Tab::Inbox,
        move |e, b| e.conversation(b, &id),
        |frame, c| pages::conversation(frame, &c),
    )
    .await
}

async fn orders(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Query<LangQuery>,
) -> Response {
    tab_page(
        &state,
        &headers,
        &query,
        Tab::Orders,
        |e, b| e.orders(b, None),
        |frame, list| pages::orders(frame, &list),
    )
    .await
}

async fn settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Query<LangQuery>,
) -> Response {
    let channel = state.whatsapp.clone();
    let handoff_words = channel
        .as_ref()
        .map(|c| c.handoff_words().to_vec())
        .unwrap_or_default();
    tab_page(
        &state,
        &headers,
        &query,
        Tab::Settings,
        move |e, b| {
            let whatsapp = match &channel {
                None => WhatsAppView::NoChannel,
                Some(c) => match c.connection(b) {
                    Ok(connection) => WhatsAppView::Connected {
                        phone_number_id: connection.phone_number_id,
                    },
                    Err(_) => WhatsAppView::NotConnected,
                },
            };
            Ok((e.business_settings(b)?, whatsapp))
        },
        |frame, (settings, whatsapp)| pages::settings(frame, &settings, &whatsapp, &handoff_words),
    )
    .await
}

/// A fragment for the live page: 401 rather than a redirect, which a `fetch` cannot follow
/// into a sign-in page usefully.
async fn fragment<T: Send + 'static>(
    state: &AppState,
    headers: &HeaderMap,
    call: impl FnOnce(&crate::engine::Engine, &str) -> Result<T, crate::engine::EngineError>
        + Send
        + 'static,
    render: impl FnOnce(Lang, T) -> Markup,
) -> Response {
    let lang = Lang::of_request(headers);
    let Ok(signed) = signed_in(state, headers).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let id = signed.business.id;
    match load(state, lang, move |e| call(e, &id)).await {
        Ok(loaded) => html(render(lang, loaded), None),
        Err(page) => page,
    }
}

async fn inbox_fragment(State(state): State<AppState>, headers: HeaderMap) -> Response {
    fragment(&state, &headers, listed, |lang, list| {
        pages::inbox_list(lang, &list)
    })
    .await
}

async fn turns_fragment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    fragment(
        &state,
        &headers,
        move |e, b| e.conversation(b, &id),
        |lang, c| pages::turns(lang, &c),
    )
    .await
}

/// `GET /app/events`: an event `change` whenever the business's inbox changes; ends when the
/// session does or the server stops.
async fn events(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((token, session)) = state.sessions.of_request(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(business) = session.business else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let id = business.clone();
    let Ok(first) = blocking(&state, move |e| e.inbox_stamp(&id)).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    Sse::new(changes(state, token, business, first))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn changes(
    state: AppState,
    token: String,
    business: String,
    first: crate::store::InboxStamp,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(first, move |last| {
        let (state, token, business) = (state.clone(), token.clone(), business.clone());
        async move {
            let mut closing = state.closing.subscribe();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(LIVE_POLL) => {}
                    _ = closing.wait_for(|closed| *closed) => return None,
                }
                // Looking does not keep the session alive: only the person's requests do.
                if !state.sessions.alive(&token) {
                    return None;
                }
                let id = business.clone();
                let stamp = blocking(&state, move |e| e.inbox_stamp(&id)).await.ok()?;
                if stamp != last {
                    return Some((Ok(Event::default().event("change").data("inbox")), stamp));
                }
            }
        }
    })
}
