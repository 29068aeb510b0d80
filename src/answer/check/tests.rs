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
