//! The web page's own words in German and English: one struct per language, so a word missing
//! in one is a compile error, not a blank on the page. The language is the browser's choice
//! (`Accept-Language`) until the person picks one on the page (a `clerk_lang` cookie).

use axum::http::HeaderMap;

use super::session::cookie;

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

/// The cookie remembering the person's choice (a preference, not a secret).
pub const LANG_COOKIE: &str = "clerk_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The cookie's choice, else the first of the browser's languages we have, else English.
    pub fn of_request(headers: &HeaderMap) -> Lang {
        if let Some(lang) = cookie(headers, LANG_COOKIE).and_then(|c| Lang::parse(&c)) {
            return lang;
        }
        let accepted = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        accepted
            .split(',')
            .filter_map(|part| part.split(';').next())
            .filter_map(|tag| Lang::parse(tag.trim().get(..2)?))
            .next()
            .unwrap_or(Lang::En)
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::De => Lang::En,
            Lang::En => Lang::De,
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::De => &DE,
            Lang::En => &EN,
        }
    }
}

/// Every word the page shows.
pub struct Words {
    pub language_name: &'static str,
    pub sign_in: &'static str,
    pub sign_in_hint: &'static str,
    pub key: &'static str,
    pub wrong_key: &'static str,
    pub sign_out: &'static str,
    pub pick_business: &'static str,
    pub documents: &'static str,
    pub try_it: &'static str,
    pub inbox: &'static str,
    pub orders: &'static str,
    pub settings: &'static str,
    pub upload: &'static str,
    pub upload_hint: &'static str,
    pub no_documents: &'static str,
    pub name: &'static str,
    pub format: &'static str,
    pub passages: &'static str,
    pub size: &'static str,
    pub uploaded: &'static str,
    pub search_mode: &'static str,
    pub embedded_with: &'static str,
    pub words_only: &'static str,
    pub delete: &'static str,
    pub confirm_delete: &'static str,
    pub ask_hint: &'static str,
    pub ask: &'static str,
    pub new_conversation: &'static str,
    pub mode: &'static str,
    pub sources: &'static str,
    pub timings: &'static str,
    pub hand_over_marked: &'static str,
    pub no_conversations: &'static str,
    pub waiting: &'static str,
    pub with_person: &'static str,
    pub answered: &'static str,
    pub customer: &'static str,
    pub assistant: &'static str,
    pub person: &'static str,
    pub reply: &'static str,
    pub reply_hint: &'static str,
    pub send: &'static str,
    pub release: &'static str,
    pub released: &'static str,
    pub sent: &'static str,
    pub live: &'static str,
    pub back_to_inbox: &'static str,
    pub no_orders: &'static str,
    pub order: &'static str,
    pub pickup: &'static str,
    pub delivery: &'static str,
    pub note_for_customer: &'static str,
    pub whatsapp: &'static str,
    pub not_connected: &'static str,
    pub connected_as: &'static str,
    pub phone_number_id: &'static str,
    pub access_token: &'static str,
    pub app_secret: &'static str,
    pub verify_token: &'static str,
    pub connect: &'static str,
    pub no_channel: &'static str,
    pub handoff_words: &'static str,
    pub handoff_words_hint: &'static str,
    pub disclosure: &'static str,
    pub disclosure_hint: &'static str,
    pub retention_days: &'static str,
    pub retention_hint: &'static str,
    pub order_template: &'static str,
    pub order_template_languages: &'static str,
    pub order_template_hint: &'static str,
    pub pix: &'static str,
    pub pix_hint: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub erase_customer: &'static str,
    pub erase_hint: &'static str,
    pub erase: &'static str,
    pub confirm_erase: &'static str,
    pub failed: &'static str,
    pub working: &'static str,
    pub done: &'static str,
}

/// The actions a business takes on an order, as buttons.
pub fn order_action(lang: Lang, action: &str) -> &'static str {
    match (lang, action) {
        (Lang::De, "accept") => "Annehmen",
        (Lang::De, "decline") => "Ablehnen",
        (Lang::De, "ready") => "Abholbereit",
        (Lang::De, "collected") => "Abgeholt",
        (Lang::De, "cancel") => "Stornieren",
        (Lang::En, "accept") => "Accept",
        (Lang::En, "decline") => "Decline",
        (Lang::En, "ready") => "Ready",
        (Lang::En, "collected") => "Collected",
        (Lang::En, "cancel") => "Cancel",
        _ => "?",
    }
}

/// An order's state, as shown.
pub fn order_state(lang: Lang, state: &str) -> &'static str {
    match (lang, state) {
        (Lang::De, "awaiting_confirmation") => "wartet auf Bestätigung",
        (Lang::De, "placed") => "aufgegeben",
        (Lang::De, "accepted") => "angenommen",
        (Lang::De, "declined") => "abgelehnt",
        (Lang::De, "ready") => "abholbereit",
        (Lang::De, "collected") => "abgeholt",
        (Lang::De, "cancelled") => "storniert",
        (Lang::En, "awaiting_confirmation") => "awaiting confirmation",
        (Lang::En, "placed") => "placed",
        (Lang::En, "accepted") => "accepted",
        (Lang::En, "declined") => "declined",
        (Lang::En, "ready") => "ready",
        (Lang::En, "collected") => "collected",
        (Lang::En, "cancelled") => "cancelled",
        _ => "?",
    }
}

pub const DE: Words = Words {
    language_name: "Deutsch",
    sign_in: "Anmelden",
    sign_in_hint: "Mit dem API-Schlüssel Ihres Geschäfts oder dem Admin-Token.",
    key: "Schlüssel",
    wrong_key: "Dieser Schlüssel ist unbekannt.",
    sign_out: "Abmelden",
    pick_business: "Geschäft wählen",
    documents: "Dokumente",
    try_it: "Ausprobieren",
    inbox: "Posteingang",
    orders: "Bestellungen",
    settings: "Einstellungen",
    upload: "Hochladen",
    upload_hint: "Katalog, FAQ, Seiten: CSV, Markdown, Text, HTML, JSON, PDF. Mehrere Dateien auf einmal.",
    no_documents: "Noch keine Dokumente.",
    name: "Name",
    format: "Format",
    passages: "Abschnitte",
    size: "Größe",
    uploaded: "Hochgeladen",
    search_mode: "Suche",
    embedded_with: "Wörter und Bedeutung (eingebettet mit",
    words_only: "nur Wörter (kein Satz-Encoder geladen)",
    delete: "Löschen",
    confirm_delete: "Dieses Dokument löschen?",
    ask_hint: "Fragen Sie, wie Ihre Kundschaft fragen würde.",
    ask: "Fragen",
    new_conversation: "Neues Gespräch",
    mode: "Art",
    sources: "Quellen",
    timings: "Zeiten",
    hand_over_marked: "An eine Person übergeben: das Gespräch steht im Posteingang.",
    no_conversations: "Noch keine Gespräche.",
    waiting: "wartet auf Sie",
    with_person: "bei Ihnen",
    answered: "beantwortet",
    customer: "Kunde",
    assistant: "clerk",
    person: "Sie",
    reply: "Antworten",
    reply_hint: "Ihre Antwort an den Kunden",
    send: "Senden",
    release: "An clerk zurückgeben",
    released: "clerk antwortet wieder.",
    sent: "Gesendet.",
    live: "live",
    back_to_inbox: "Zum Posteingang",
    no_orders: "Noch keine Bestellungen.",
    order: "Bestellung",
    pickup: "Abholung",
    delivery: "Lieferung",
    note_for_customer: "Notiz an den Kunden (optional)",
    whatsapp: "WhatsApp",
    not_connected: "Keine WhatsApp-Nummer verbunden.",
    connected_as: "Verbunden mit der Nummer (phone_number_id)",
    phone_number_id: "Phone number ID",
    access_token: "Access token",
    app_secret: "App secret",
    verify_token: "Verify token",
    connect: "Verbinden",
    no_channel: "Dieser Server nimmt keine WhatsApp-Webhooks an.",
    handoff_words: "Wörter für eine Person",
    handoff_words_hint: "Schreibt ein Kunde in einer kurzen Nachricht eines davon, übernimmt eine Person; durch Kommas getrennt. Leer: die Wörter des Servers.",
    disclosure: "Hinweis auf den Assistenten",
    disclosure_hint: "Steht vor der ersten Antwort an jeden Kunden. Leer: clerks Text in der Sprache des Kunden.",
    retention_days: "Aufbewahrung (Tage)",
    retention_hint: "Nachrichtentexte älter als so viele Tage werden gelöscht; 0: nichts nach der Zustellung. Leer: Voreinstellung des Servers.",
    order_template: "Vorlage für Bestellungen (Name)",
    order_template_languages: "Sprachen der Vorlage",
    order_template_hint: "Eine bei Meta genehmigte Vorlage, mit der ein Kunde von seiner Bestellung erfährt, wenn er seit über 24 Stunden nicht geschrieben hat: {{1}} die Bestellnummer, {{2}} der neue Stand, {{3}} Ihr Hinweis oder „–“. Sprachcodes durch Kommas getrennt (de, en_US, pt_BR). Leer: keine Vorlage, die Nachricht bleibt unzugestellt.",
    pix: "PIX-Schlüssel oder Copia-e-Cola-Code",
    pix_hint: "Steht in der Nachricht, mit der ein Kunde erfährt, dass seine Bestellung angenommen ist, zum Kopieren; eine Zeile, höchstens 512 Zeichen. clerk wickelt keine Zahlung ab. Leer: nichts.",
    save: "Speichern",
    saved: "Gespeichert.",
    erase_customer: "Kunden löschen",
    erase_hint: "Alle Nachrichten und persönlichen Angaben eines Kunden (Gesprächs-ID, z. B. wa:491701234567).",
    erase: "Löschen",
    confirm_erase: "Alle Daten dieses Kunden endgültig löschen?",
    failed: "Fehler",
    working: "Läuft …",
    done: "Fertig",
};

pub const EN: Words = Words {
    language_name: "English",
    sign_in: "Sign in",
    sign_in_hint: "With your business's API key or the admin token.",
    key: "Key",
    wrong_key: "This key is not known.",
    sign_out: "Sign out",
    pick_business: "Pick a business",
    documents: "Documents",
    try_it: "Try it",
    inbox: "Inbox",
    orders: "Orders",
    settings: "Settings",
    upload: "Upload",
    upload_hint: "Catalog, FAQ, pages: CSV, Markdown, text, HTML, JSON, PDF. Several files at once.",
    no_documents: "No documents yet.",
    name: "Name",
    format: "Format",
    passages: "Passages",
    size: "Size",
    uploaded: "Uploaded",
    search_mode: "Search",
    embedded_with: "words and meaning (embedded with",
    words_only: "words only (no sentence encoder loaded)",
    delete: "Delete",
    confirm_delete: "Delete this document?",
    ask_hint: "Ask as your customers would.",
    ask: "Ask",
    new_conversation: "New conversation",
    mode: "Mode",
    sources: "Sources",
    timings: "Timings",
    hand_over_marked: "Handed to a person: the conversation is in the inbox.",
    no_conversations: "No conversations yet.",
    waiting: "waiting for you",
    with_person: "with you",
    answered: "answered",
    customer: "Customer",
    assistant: "clerk",
    person: "You",
    reply: "Reply",
    reply_hint: "Your reply to the customer",
    send: "Send",
    release: "Hand back to clerk",
    released: "clerk answers again.",
    sent: "Sent.",
    live: "live",
    back_to_inbox: "Back to the inbox",
    no_orders: "No orders yet.",
    order: "Order",
    pickup: "Pickup",
    delivery: "Delivery",
    note_for_customer: "Note for the customer (optional)",
    whatsapp: "WhatsApp",
    not_connected: "No WhatsApp number connected.",
    connected_as: "Connected to the number (phone_number_id)",
    phone_number_id: "Phone number ID",
    access_token: "Access token",
    app_secret: "App secret",
    verify_token: "Verify token",
    connect: "Connect",
    no_channel: "This server takes no WhatsApp webhooks.",
    handoff_words: "Words that ask for a person",
    handoff_words_hint: "A customer writing one of these in a short message gets a person; separated by commas. Empty: the server's words.",
    disclosure: "Assistant disclosure",
    disclosure_hint: "Opens the first reply to every customer. Empty: clerk's text in the customer's language.",
    retention_days: "Retention (days)",
    retention_hint: "Message texts older than this many days are deleted; 0 keeps nothing after delivery. Empty: the server's default.",
    order_template: "Order update template (name)",
    order_template_languages: "Template languages",
    order_template_hint: "A template Meta approved, with which a customer hears of their order when they last wrote more than 24 hours ago: {{1}} the order's reference, {{2}} its new state, {{3}} your note or “–”. Language codes separated by commas (de, en_US, pt_BR). Empty: no template; such an update stays undelivered.",
    pix: "PIX key or copia e cola code",
    pix_hint: "Added, for copying, to the message telling a customer their order was accepted; one line, at most 512 characters. clerk processes no payment. Empty: nothing.",
    save: "Save",
    saved: "Saved.",
    erase_customer: "Erase a customer",
    erase_hint: "All messages and personal details of one customer (their conversation id, e.g. wa:491701234567).",
    erase: "Erase",
    confirm_erase: "Erase all of this customer's data for good?",
    failed: "Failed",
    working: "Working …",
    done: "Done",
};
