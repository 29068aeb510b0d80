//! The page's HTML, one function per page, written with maud (checked at compile time and
//! escaping every value it is given). Pages carry no inline script or style, so the
//! Content-Security-Policy can forbid both: the page's script reads what it needs from
//! `data-` attributes.

use maud::{html, Markup, DOCTYPE};

use super::words::{order_action, order_state, Lang, Words};
use crate::engine::{
    SettingsView, MAX_DISCLOSURE_CHARS, MAX_NOTE_CHARS, MAX_PIX_CHARS, MAX_REPLY_CHARS,
    MAX_RETENTION_DAYS,
};
use crate::index::DocumentInfo;
use crate::store::{Business, Conversation, ConversationSummary, Order, OrderCustomer};

/// Which page is shown (its tab is marked in the navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Documents,
    Try,
    Inbox,
    Orders,
    Settings,
}

impl Tab {
    const ALL: [Tab; 5] = [
        Tab::Documents,
        Tab::Try,
        Tab::Inbox,
        Tab::Orders,
        Tab::Settings,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Tab::Documents => "/app/documents",
            Tab::Try => "/app/try",
            Tab::Inbox => "/app/inbox",
            Tab::Orders => "/app/orders",
            Tab::Settings => "/app/settings",
        }
    }

    fn label(self, w: &Words) -> &'static str {
        match self {
            Tab::Documents => w.documents,
            Tab::Try => w.try_it,
            Tab::Inbox => w.inbox,
            Tab::Orders => w.orders,
            Tab::Settings => w.settings,
        }
    }
}

/// What every signed-in page shows around its content.
pub struct Frame<'a> {
    pub lang: Lang,
    pub business: &'a Business,
    pub csrf: &'a str,
    pub admin: bool,
    pub tab: Tab,
}

/// A whole page: `body` (the `body` element itself) under the head every page shares.
fn document(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · clerk" }
                link rel="stylesheet" href="/app/assets/app.css";
                script src="/app/assets/app.js" defer {}
            }
            (body)
        }
    }
}

/// The language switch: a link to the same page in the other language.
fn language_switch(lang: Lang, here: &str) -> Markup {
    let other = lang.other();
    html! {
        a.lang href={ (here) "?lang=" (other.code()) } hreflang=(other.code()) {
            (other.words().language_name)
        }
    }
}

/// A signed-in page.
pub fn page(frame: &Frame, content: Markup) -> Markup {
    let w = frame.lang.words();
    let title = frame.tab.label(w);
    document(
        frame.lang,
        title,
        html! {
        body data-business=(frame.business.id) data-csrf=(frame.csrf) data-lang=(frame.lang.code())
            data-words=(script_words(w)) {
            header {
                strong.brand { "clerk" }
                span.business { (frame.business.name) }
                nav {
                    @for tab in Tab::ALL {
                        a href=(tab.path()) class=[(tab == frame.tab).then_some("active")] {
                            (tab.label(w))
                        }
                    }
                }
                div.account {
                    (language_switch(frame.lang, frame.tab.path()))
                    @if frame.admin {
                        a href="/app/pick" { (w.pick_business) }
                    }
                    form method="post" action="/app/logout" {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        button.link type="submit" { (w.sign_out) }
                    }
                }
            }
            main { h1 { (title) } (content) }
        }
        },
    )
}

/// The words the page's script shows, as JSON in an attribute.
fn script_words(w: &Words) -> String {
    serde_json::json!({
        "failed": w.failed, "working": w.working, "done": w.done, "sent": w.sent,
        "saved": w.saved, "released": w.released, "confirm_delete": w.confirm_delete,
        "confirm_erase": w.confirm_erase, "mode": w.mode, "sources": w.sources,
        "timings": w.timings, "hand_over": w.hand_over_marked,
        "customer": w.customer, "assistant": w.assistant,
    })
    .to_string()
}

pub fn sign_in(lang: Lang, error: Option<&str>) -> Markup {
    let w = lang.words();
    document(
        lang,
        w.sign_in,
        html! {
        body.narrow {
            main {
                h1 { "clerk" }
                form.card method="post" action="/app/login" {
                    label for="key" { (w.key) }
                    input #key type="password" name="key" autocomplete="current-password" required autofocus;
                    p.hint { (w.sign_in_hint) }
                    @if let Some(error) = error { p.error role="alert" { (error) } }
                    button type="submit" { (w.sign_in) }
                }
                p { (language_switch(lang, "/app")) }
            }
        }
        },
    )
}

pub fn pick(lang: Lang, csrf: &str, businesses: &[Business]) -> Markup {
    let w = lang.words();
    document(
        lang,
        w.pick_business,
        html! {
        body.narrow data-csrf=(csrf) {
            main {
                h1 { (w.pick_business) }
                ul.cards {
                    @for b in businesses {
                        li {
                            form method="post" action="/app/pick" {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="business" value=(b.id);
                                button type="submit" { (b.name) }
                                " " small { (b.id) }
                            }
                        }
                    }
                }
            }
        }
        },
    )
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// A time the script shows in the reader's own zone and language.
fn when(seconds: u64) -> Markup {
    html! { time data-ts=(seconds) {} }
}

pub fn documents(frame: &Frame, docs: &[DocumentInfo], embedding: Option<&str>) -> Markup {
    let w = frame.lang.words();
    page(
        frame,
        html! {
            form.card #upload {
                label for="files" { (w.upload) }
                input #files type="file" name="files" multiple required;
                p.hint { (w.upload_hint) }
                button type="submit" { (w.upload) }
                ul #progress {}
            }
            p.hint {
                (w.search_mode) ": "
                @match embedding {
                    Some(model) => { (w.embedded_with) " " code { (model) } ")" }
                    None => { (w.words_only) }
                }
            }
            @if docs.is_empty() {
                p #documents { (w.no_documents) }
            } @else {
                table #documents {
                    thead { tr { th { (w.name) } th { (w.format) } th.num { (w.passages) } th.num { (w.size) } th { (w.uploaded) } th {} } }
                    tbody {
                        @for d in docs {
                            tr data-document=(d.name) {
                                td { (d.name) }
                                td { (format!("{:?}", d.format).to_lowercase()) }
                                td.num { (d.passages) }
                                td.num { (size(d.bytes)) }
                                td { (when(d.uploaded_at)) }
                                td { button.danger data-delete=(d.name) type="button" { (w.delete) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn try_it(frame: &Frame, max_question_chars: usize) -> Markup {
    let w = frame.lang.words();
    page(
        frame,
        html! {
            div #chat aria-live="polite" {}
            form.card #ask {
                label for="question" { (w.ask_hint) }
                textarea #question name="question" rows="2" maxlength=(max_question_chars) required {}
                div.row {
                    button type="submit" { (w.ask) }
                    button.link #restart type="button" { (w.new_conversation) }
                }
            }
        },
    )
}

fn role_name<'a>(w: &'a Words, role: &str) -> &'a str {
    match role {
        "customer" => w.customer,
        "person" => w.person,
        _ => w.assistant,
    }
}

fn preview(text: &str) -> String {
    let mut short: String = text.chars().take(90).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// The list of conversations (also what the live inbox swaps in).
pub fn inbox_list(lang: Lang, conversations: &[ConversationSummary]) -> Markup {
    let w = lang.words();
    html! {
        @if conversations.is_empty() {
            p { (w.no_conversations) }
        } @else {
            ul.conversations {
                @for c in conversations {
                    li class=[c.waiting.then_some("waiting")] data-conversation=(c.id) {
                        a href={ "/app/inbox/" (urlencode(&c.id)) } {
                            span.who { (c.id) }
                            span.badge {
                                (if c.waiting { w.waiting } else if c.needs_person { w.with_person } else { w.answered })
                            }
                            " " (when(c.updated_at))
                            @if let (Some(role), Some(text)) = (&c.last_role, &c.last_text) {
                                span.last { (role_name(w, role)) ": " (preview(text)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn inbox(frame: &Frame, conversations: &[ConversationSummary]) -> Markup {
    let w = frame.lang.words();
    page(
        frame,
        html! {
            p.hint { span.dot {} " " (w.live) }
            section #live data-live="/app/live/inbox" { (inbox_list(frame.lang, conversations)) }
        },
    )
}

/// A conversation's turns (also what the live conversation swaps in).
pub fn turns(lang: Lang, conversation: &Conversation) -> Markup {
    let w = lang.words();
    html! {
        ol.turns {
            @for t in &conversation.turns {
                li class=(t.role) {
                    span.who { (role_name(w, &t.role)) }
                    @if let Some(mode) = &t.mode { " " small.mode { (mode) } }
                    " " (when(t.at))
                    p { (t.text) }
                }
            }
        }
        @if conversation.needs_person {
            @if conversation.turns.last().is_some_and(|t| t.role == "person") {
                p.badge #with-person { (w.with_person) }
            } @else {
                p.badge.waiting #waiting { (w.waiting) }
            }
        }
    }
}

pub fn conversation(frame: &Frame, conversation: &Conversation) -> Markup {
    let w = frame.lang.words();
    let live = format!("/app/live/inbox/{}", urlencode(&conversation.id));
    page(
        frame,
        html! {
            p { a href="/app/inbox" { "← " (w.back_to_inbox) } }
            h2 { (conversation.id) }
            section #live data-live=(live) { (turns(frame.lang, conversation)) }
            form.card #reply data-conversation=(conversation.id) {
                label for="reply-text" { (w.reply) }
                textarea #reply-text name="text" rows="3" maxlength=(MAX_REPLY_CHARS) placeholder=(w.reply_hint) required {}
                div.row {
                    button type="submit" { (w.send) }
                    button.link #release type="button" { (w.release) }
                }
                p.status #reply-status role="status" {}
            }
        },
    )
}

fn customer(c: &OrderCustomer) -> String {
    match c {
        OrderCustomer::WhatsApp { wa_id, name } => match name {
            Some(name) => format!("{name} (+{wa_id})"),
            None => format!("+{wa_id}"),
        },
        OrderCustomer::Api => "API".to_string(),
    }
}

pub fn orders(frame: &Frame, orders: &[Order]) -> Markup {
    let w = frame.lang.words();
    let lang = frame.lang;
    page(
        frame,
        html! {
            @if orders.is_empty() { p { (w.no_orders) } }
            ul.cards.orders {
                @for o in orders {
                    li.card data-order=(o.id) data-state=(o.state.as_str()) {
                        div.row {
                            strong { (w.order) " " (o.id) }
                            span.badge.state { (order_state(lang, o.state.as_str())) }
                            (when(o.updated_at))
                        }
                        p { (customer(&o.customer)) }
                        ul.items {
                            @for item in &o.items {
                                li {
                                    (item.quantity) " × " (item.title) " — " (item.price)
                                    @if let Some(currency) = &item.currency { " " (currency) }
                                }
                            }
                        }
                        @if let Some(f) = o.fulfilment {
                            p { (match f.as_str() { "delivery" => w.delivery, _ => w.pickup }) }
                        }
                        @if let Some(note) = &o.customer_note { p.hint { (note) } }
                        @let actions = o.state.allowed();
                        @let actions: Vec<_> = actions.iter().filter(|a| a.as_str() != "confirm").collect();
                        @if !actions.is_empty() {
                            div.actions {
                                input.note type="text" maxlength=(MAX_NOTE_CHARS) placeholder=(w.note_for_customer);
                                @for a in actions {
                                    button type="button" data-action=(a.as_str()) { (order_action(lang, a.as_str())) }
                                }
                            }
                        }
                        p.status role="status" {}
                    }
                }
            }
        },
    )
}

/// The WhatsApp part of the settings page.
pub enum WhatsAppView {
    /// This server takes no webhooks.
    NoChannel,
    NotConnected,
    Connected {
        phone_number_id: String,
    },
}

pub fn settings(
    frame: &Frame,
    settings: &SettingsView,
    whatsapp: &WhatsAppView,
    server_handoff_words: &[String],
) -> Markup {
    let w = frame.lang.words();
    let disclosure = settings.settings.disclosure.clone().unwrap_or_default();
    let retention = settings
        .settings
        .retention_days
        .map(|d| d.to_string())
        .unwrap_or_default();
    let own_words = settings
        .settings
        .handoff_words
        .as_ref()
        .map(|words| words.join(", "))
        .unwrap_or_default();
    let server_words = server_handoff_words.join(", ");
    let order_template = settings.settings.order_template.as_ref();
    let template_name = order_template.map(|t| t.name.clone()).unwrap_or_default();
    let template_languages = order_template
        .map(|t| t.languages.join(", "))
        .unwrap_or_default();
    let pix = settings.settings.pix.clone().unwrap_or_default();
    page(
        frame,
        html! {
            section.card {
                h2 { (w.whatsapp) }
                @match whatsapp {
                    WhatsAppView::NoChannel => p { (w.no_channel) },
                    WhatsAppView::NotConnected => p #wa-state { (w.not_connected) },
                    WhatsAppView::Connected { phone_number_id } => p #wa-state { (w.connected_as) ": " code { (phone_number_id) } },
                }
                @if !matches!(whatsapp, WhatsAppView::NoChannel) {
                    form #connect {
                        label { (w.phone_number_id) input name="phone_number_id" required inputmode="numeric"; }
                        label { (w.access_token) input name="access_token" type="password" required autocomplete="off"; }
                        label { (w.app_secret) input name="app_secret" type="password" required autocomplete="off"; }
                        label { (w.verify_token) input name="verify_token" type="password" required autocomplete="off"; }
                        button type="submit" { (w.connect) }
                        p.status role="status" {}
                    }
                }
            }
            form.card #privacy {
                h2 { (w.settings) }
                label for="disclosure" { (w.disclosure) }
                textarea #disclosure name="disclosure" rows="3" maxlength=(MAX_DISCLOSURE_CHARS) { (disclosure) }
                p.hint { (w.disclosure_hint) }
                label for="retention" { (w.retention_days) }
                input #retention name="retention_days" type="number" min="0" max=(MAX_RETENTION_DAYS) value=(retention)
                    placeholder=(settings.effective_retention_days);
                p.hint { (w.retention_hint) }
                label for="handoff" { (w.handoff_words) }
                input #handoff name="handoff_words" value=(own_words) placeholder=(server_words);
                p.hint { (w.handoff_words_hint) }
                label for="template-name" { (w.order_template) }
                input #template-name name="order_template_name" value=(template_name)
                    placeholder="order_update" pattern="[a-z0-9_]+" autocomplete="off";
                label for="template-languages" { (w.order_template_languages) }
                input #template-languages name="order_template_languages" value=(template_languages)
                    placeholder="de, en" autocomplete="off";
                p.hint { (w.order_template_hint) }
                label for="pix" { (w.pix) }
                input #pix name="pix" value=(pix) maxlength=(MAX_PIX_CHARS) autocomplete="off";
                p.hint { (w.pix_hint) }
                button type="submit" { (w.save) }
                p.status role="status" {}
            }
            form.card #erase {
                h2 { (w.erase_customer) }
                label for="erase-id" { (w.erase_hint) }
                input #erase-id name="customer" required;
                button.danger type="submit" { (w.erase) }
                p.status role="status" {}
            }
        },
    )
}

/// A path segment, percent-encoded (conversation ids hold `:` and `+`).
pub fn urlencode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A page that is only a message (an unknown conversation, a business that went away).
pub fn message(lang: Lang, text: &str) -> Markup {
    document(
        lang,
        "clerk",
        html! {
        body.narrow { main { p { (text) } p { a href="/app" { "clerk" } } } }
        },
    )
}
