//! A WhatsApp customer's first reply begins with the AI disclosure in their language; the
//! next does not; the first after a month of the customer's silence does again. A business
//! may word it, and choose the words that bring a person.

use super::{now, Rig, DAY};

#[tokio::test]
async fn the_first_reply_and_the_first_after_a_month_of_silence_say_clerk_is_automated() {
    let rig = Rig::start().await;
    let anna = "4915100000001";
    let t = now();
    rig.writes(anna, "wamid.anna.1", "Wann habt ihr geöffnet?", t)
        .await;
    let first = rig.replies_to("wamid.anna.1").await;
    assert_eq!(first.len(), 1, "{first:?}");
    let (disclosure, answer) = first[0].split_once("\n\n").unwrap();
    assert!(
        disclosure.contains("automatischen Assistenten")
            && disclosure.contains("Buchhandlung Lindenblatt")
            && disclosure.contains("„Mitarbeiter“"),
        "{first:?}"
    );
    assert!(answer.contains("9 bis 19 Uhr"), "{first:?}");

    rig.writes(anna, "wamid.anna.2", "Kann ich Bücher reservieren?", t + 60)
        .await;
    let second = rig.replies_to("wamid.anna.2").await;
    assert!(!second.is_empty());
    assert!(
        second.iter().all(|b| !b.contains("Assistenten")),
        "{second:?}"
    );

    // 31 days after her last message (Meta's timestamps say when she wrote).
    let later = t + 60 + 31 * DAY;
    rig.writes(anna, "wamid.anna.3", "Liefert ihr auch nach Hause?", later)
        .await;
    let third = rig.replies_to("wamid.anna.3").await;
    assert!(third[0].contains("automatischen Assistenten"), "{third:?}");
    assert_eq!(
        third.iter().filter(|b| b.contains("Assistenten")).count(),
        1,
        "{third:?}"
    );

    // An English customer is told in English.
    let bob = "447700900001";
    rig.writes(bob, "wamid.bob.1", "Hello, when are you open?", t)
        .await;
    let english = rig.replies_to("wamid.bob.1").await;
    assert!(
        english[0].contains("automated assistant") && english[0].contains("\"person\""),
        "{english:?}"
    );
}

#[tokio::test]
async fn a_business_may_word_the_disclosure_itself() {
    let rig = Rig::start().await;
    let text = "Hier antwortet unser Bot. Schreiben Sie Mitarbeiter für Frau Linde.";
    let (status, body) = rig
        .call(
            reqwest::Method::PUT,
            &format!("/v1/businesses/{}/settings", super::SHOP),
            Some(serde_json::json!({"disclosure": text})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effective_retention_days"], 30);
    rig.writes(
        "4915100000002",
        "wamid.own.1",
        "Wann habt ihr geöffnet?",
        now(),
    )
    .await;
    let replies = rig.replies_to("wamid.own.1").await;
    assert!(
        replies[0].starts_with(&format!("{text}\n\n")),
        "{replies:?}"
    );
    // A blank text is refused with the reason.
    let (status, body) = rig
        .call(
            reqwest::Method::PUT,
            &format!("/v1/businesses/{}/settings", super::SHOP),
            Some(serde_json::json!({"disclosure": "  "})),
            &[],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_setting");
}

#[tokio::test]
async fn a_business_may_choose_the_words_that_bring_a_person() {
    let rig = Rig::start().await;
    let settings = format!("/v1/businesses/{}/settings", super::SHOP);
    let (status, body) = rig
        .call(
            reqwest::Method::PUT,
            &settings,
            Some(serde_json::json!({"handoff_words": [" Chefin ", "INHABER", "chefin"]})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["handoff_words"],
        serde_json::json!(["chefin", "inhaber"])
    );
    // The disclosure names the business's word, and the word brings a person.
    let carla = "4915100000003";
    rig.writes(carla, "wamid.carla.1", "Wann habt ihr geöffnet?", now())
        .await;
    let first = rig.replies_to("wamid.carla.1").await;
    assert!(first[0].contains("„chefin“"), "{first:?}");
    rig.writes(carla, "wamid.carla.2", "Chefin bitte", now() + 5)
        .await;
    rig.replies_to("wamid.carla.2").await;
    let (_, conversation) = rig
        .call(
            reqwest::Method::GET,
            &format!("/v1/businesses/{}/conversations/wa:{carla}", super::SHOP),
            None,
            &[],
        )
        .await;
    assert_eq!(conversation["needs_person"], true, "{conversation}");
    assert_eq!(
        conversation["turns"].as_array().unwrap().last().unwrap()["mode"],
        "handed off",
        "{conversation}"
    );
    // Two words in one are refused with the reason, and nothing changes.
    let (status, body) = rig
        .call(
            reqwest::Method::PUT,
            &settings,
            Some(serde_json::json!({"handoff_words": ["mit chef"]})),
            &[],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("one word"));
    let (_, now_set) = rig.call(reqwest::Method::GET, &settings, None, &[]).await;
    assert_eq!(
        now_set["handoff_words"],
        serde_json::json!(["chefin", "inhaber"])
    );
}
