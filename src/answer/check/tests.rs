//! The check against small sources: what must pass and what must not.

use super::*;

fn check(reply: &str, sources: &[&str]) -> Vec<String> {
    unsupported(
        reply,
        &Evidence::new(sources.iter().copied()),
        &["Harbour Bikes"],
    )
    .into_iter()
    .map(|u| u.span)
    .collect()
}

#[test]
fn invented_opening_hours_are_caught() {
    let source = "Monday to Friday 8:30am–6:00pm, Saturday 9:00am–5:00pm.";
    assert!(check("On Saturday we are open 9:00am to 5:00pm.", &[source]).is_empty());
    assert_eq!(
        check("On Saturday we are open 9:00am to 7:00pm.", &[source]),
        vec!["7:00"]
    );
    assert_eq!(
        check("We are also open on Sunday.", &[source]),
        vec!["Sunday"]
    );
}

#[test]
fn prices_match_by_their_digits() {
    let source = "Tidewater 500 Hybrid. Price: 649.00 GBP";
    assert!(check("The Tidewater 500 costs £649.", &[source]).is_empty());
    assert!(check("It costs 649.00 GBP.", &[source]).is_empty());
    assert_eq!(check("It costs £599.", &[source]), vec!["599"]);
    assert_eq!(
        check("Der Zauberberg kostet 16,00 €.", &["Preis: 16,00"]),
        vec!["Zauberberg"]
    );
}

#[test]
fn urls_emails_and_phones_must_be_quoted_exactly() {
    let source = "Call 01632 960123 or write to hello@harbourbikes.example; see https://harbourbikes.example/hire.";
    assert!(check(
        "Call us on 01632 960123 or email hello@harbourbikes.example.",
        &[source]
    )
    .is_empty());
    assert!(check("Details: https://harbourbikes.example/hire", &[source]).is_empty());
    assert_eq!(
        check("Write to sales@harbourbikes.example.", &[source]),
        vec!["sales@harbourbikes.example"]
    );
    assert_eq!(check("Call 01632 960999.", &[source]), vec!["01632 960999"]);
    assert_eq!(
        check("See https://harbourbikes.example/sale.", &[source]),
        vec!["https://harbourbikes.example/sale"]
    );
    // Part of a source's address is another address.
    assert_eq!(
        check("See https://harbourbikes.example/hi.", &[source]),
        vec!["https://harbourbikes.example/hi"]
    );
    assert_eq!(
        check("Write to o@harbourbikes.example", &[source]),
        vec!["o@harbourbikes.example"]
    );
}

#[test]
fn names_need_a_source_but_sentence_starts_and_the_business_do_not() {
    let source = "We stock Brompton folding bikes.";
    assert!(check("Yes. We stock Brompton bikes at Harbour Bikes.", &[source]).is_empty());
    assert_eq!(check("We also stock Trek bikes.", &[source]), vec!["Trek"]);
    assert!(check("I'm sure. I think so.", &[source]).is_empty());
    assert_eq!(check("Trek is in stock.", &[source]), vec!["Trek"]);
    let hours = "Mon–Sat 9:00–17:00";
    assert!(check("We are open Mon–Sat 9:00–17:00.", &[hours]).is_empty());
    assert_eq!(
        check("We are open Mon–Sun 9:00–17:00.", &[hours]),
        vec!["Sun"]
    );
}

#[test]
fn sentences_made_up_around_the_sources_are_claims() {
    let source = "Hire bikes must be returned by 5:30pm on the last day of hire.";
    let evidence = Evidence::new([source]);
    assert!(unsupported_claims(
        "Please return hire bikes by 5:30pm on the last day.",
        &evidence
    )
    .is_empty());
    let made_up = "A detailed plan ensures that every claim is carefully assessed.";
    assert_eq!(
        unsupported_claims(made_up, &evidence)[0].kind,
        FactKind::Claim
    );
}

#[test]
fn digit_groups_ignore_leading_zeros_and_trailing_zero_groups() {
    assert_eq!(groups("09:00"), vec!["9", "00"]);
    assert!(!Evidence::new(["Deposit: 50 GBP"]).has_number("50,000"));
    assert!(!Evidence::new(["It weighs 1.5 kg"]).has_number("1.05"));
    assert!(Evidence::new(["Price: 649.00 GBP"]).has_number("649"));
    let evidence = Evidence::new(["open 09:00-18:00"]);
    assert!(evidence.has_number("9:00"));
    assert!(evidence.has_number("18"));
    assert!(!evidence.has_number("19"));
}

fn bound(reply: &str, question: &str, sources: &[&str]) -> Option<String> {
    let asked: Vec<String> = question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect();
    misattached(
        reply,
        &Evidence::new(sources.iter().copied()),
        &asked,
        &["Harbour Bikes"],
    )
    .map(|u| u.span)
}

const HOURS_DE: &str = "Öffnungszeiten: Montag bis Freitag 9:00–19:00, Samstag 9:00–16:00, \
                        Sonntag geschlossen.";

#[test]
fn a_time_stated_about_the_wrong_day_is_misattached() {
    let asked = "Habt ihr samstags offen und bis wann?";
    // Every figure is in the source; the closing time is Monday-to-Friday's.
    assert!(bound(
        "Ja, samstags haben wir bis 19:00 geöffnet.",
        asked,
        &[HOURS_DE]
    )
    .is_some());
    assert!(bound(
        "Ja, Samstag ist offen und bis Freitag 19:00.",
        asked,
        &[HOURS_DE]
    )
    .is_some());
    assert!(bound("Samstag 9–19 Uhr.", asked, &[HOURS_DE]).is_some());
    assert_eq!(
        bound("Ja, samstags von 9 bis 16 Uhr.", asked, &[HOURS_DE]),
        None
    );
    assert_eq!(
        bound(
            "Ja, am Samstag von 9:00 bis 16:00, sonntags geschlossen.",
            asked,
            &[HOURS_DE]
        ),
        None
    );
}

#[test]
fn several_bindings_in_one_clause_are_each_checked() {
    let asked = "Wann habt ihr offen?";
    let right = "Montag bis Freitag 9–19 Uhr und Samstag 9–16 Uhr.";
    assert_eq!(bound(right, asked, &[HOURS_DE]), None);
    let english = "Monday to Friday 8:30am–6:00pm, Saturday 9:00am–5:00pm.";
    assert_eq!(
        bound(
            "Saturday 9am to 5pm and Monday to Friday 8:30am to 6pm.",
            "when are you open",
            &[english]
        ),
        None
    );
    // Known leniency: "Montag bis Samstag 9–19" passes, Montag binding both figures and
    // Samstag standing beside one of them (9), as "geöffnet" does below.
}

#[test]
fn a_price_belongs_to_its_product() {
    let catalog = [
        "Der Zauberberg, Thomas Mann, Preis: 24,00 €",
        "Buddenbrooks, Thomas Mann, Preis: 12,50 €",
    ];
    let asked = "Was kostet der Zauberberg?";
    assert!(bound("Der Zauberberg kostet 12,50 €.", asked, &catalog).is_some());
    assert_eq!(
        bound("Der Zauberberg kostet 24,00 €.", asked, &catalog),
        None
    );
}

#[test]
fn words_the_sources_never_set_beside_a_figure_bind_nothing() {
    // "geöffnet" and "haben" stand beside other figures, not the asked-for day's: they are
    // no subjects unless the question or the reply names them.
    let source =
        "Wir haben Montag bis Freitag von 9 bis 19 Uhr geöffnet, samstags von 9 bis 16 Uhr.";
    assert_eq!(
        bound(
            "Samstags haben wir von 9 bis 16 Uhr geöffnet.",
            "Habt ihr samstags geöffnet?",
            &[source]
        ),
        None
    );
    // A label scopes its sentence's clauses.
    assert_eq!(
        bound(
            "Unsere Öffnungszeiten am Samstag: 9 bis 16 Uhr.",
            "Öffnungszeiten am Samstag?",
            &[HOURS_DE]
        ),
        None
    );
}

#[test]
fn a_list_sentences_head_belongs_to_each_of_its_clauses() {
    let source =
        "Our shop is open Monday to Friday 9:00–18:00, Saturday 10:00–14:00, Sunday closed.";
    let asked = "is your shop open on saturday?";
    assert_eq!(
        bound(
            "On Saturday the shop is open 10:00–14:00.",
            asked,
            &[source]
        ),
        None
    );
    assert!(bound(
        "On Saturday the shop is open until 18:00.",
        asked,
        &[source]
    )
    .is_some());
    // German nouns are capitalized: "Laden" is no key, it stands before the days.
    let german = "Unser Laden ist Montag bis Freitag 9–18 Uhr geöffnet, Samstag 10–14 Uhr.";
    assert_eq!(
        bound(
            "Samstags ist der Laden von 10 bis 14 Uhr geöffnet.",
            "Ist der Laden samstags offen?",
            &[german]
        ),
        None
    );
}

#[test]
fn figures_about_something_else_than_was_asked_are_withdrawn() {
    let source = "Horário: terça a sábado 12:00–15:00 e 19:00–23:00, domingo 12:00–16:00.";
    let asked = "a que horas abrem ao domingo";
    assert!(bound(
        "Abrimos das 12:00 às 15:00 e das 19:00 às 23:00.",
        asked,
        &[source]
    )
    .is_some());
    assert_eq!(
        bound("Ao domingo abrimos das 12:00 às 16:00.", asked, &[source]),
        None
    );
    // A reply without figures states no binding.
    assert_eq!(bound("Sim, abrimos ao domingo.", asked, &[source]), None);
}

#[test]
fn a_reply_in_the_customers_language_is_judged_in_the_sources_words() {
    let asked = "when are you open on saturday?";
    // "Saturday" is the sources' "Samstag": a name they hold, bound to Saturday's hours.
    assert_eq!(
        check("On Saturday we are open 9:00–16:00.", &[HOURS_DE]),
        Vec::<String>::new()
    );
    assert_eq!(
        bound("On Saturday we are open 9:00–16:00.", asked, &[HOURS_DE]),
        None
    );
    // … and so Monday-to-Friday's closing time is caught on Saturday, as in German.
    let wrong = bound("On Saturday we are open until 19:00.", asked, &[HOURS_DE]);
    assert_eq!(
        wrong.as_deref(),
        Some("On Saturday we are open until 19:00."),
        "the span as the reply wrote it"
    );
    // The sources write no "Mittwoch": "Wednesdays" stays a name they lack.
    assert_eq!(
        check("Wednesdays 9:00–19:00.", &[HOURS_DE]),
        vec!["Wednesdays".to_string()]
    );
    let weekly = "Öffnungszeiten: Mittwoch 10:00–14:00, Donnerstag 10:00–20:00.";
    assert_eq!(
        bound("Wednesdays 10:00–14:00.", "open on wednesday?", &[weekly]),
        None
    );
    assert!(bound("Wednesdays 10:00–20:00.", "open on wednesday?", &[weekly]).is_some());
    // A word the glossary does not know stays what it was.
    assert_eq!(
        check("On Caturday we are open 9:00–16:00.", &[HOURS_DE]),
        vec!["Caturday".to_string()]
    );
}
