//! A person of the business replies through the API: on WhatsApp the reply reaches the
//! customer exactly once however often the POST is repeated, quoting what they last wrote; in
//! an API conversation it is a turn; outside the 24-hour window it is a dead letter and the
//! API says why.

use reqwest::Method;
use serde_json::json;

use super::{now, Rig, DAY, SHOP};

#[tokio::test]
async fn a_persons_reply_reaches_the_whatsapp_customer_once_however_often_it_is_posted() {
    let rig = Rig::start().await;
    let fritz = "4915100000006";
    rig.writes(fritz, "wamid.fritz.1", "Wann habt ihr geöffnet?", now())
        .await;
    rig.replies_to("wamid.fritz.1").await;
    let clerks = rig.sent_to(fritz);
    let path = format!("/v1/businesses/{SHOP}/conversations/wa:{fritz}/reply");
    let text =
        json!({"text": "Hallo, hier ist Maria aus dem Laden. Samstag haben wir bis 20 Uhr offen."});
    let key = [("Idempotency-Key", "maria-1")];
    let (status, first) = rig
        .call(Method::POST, &path, Some(text.clone()), &key)
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["delivery"], "queued");
    for _ in 0..3 {
        let (status, again) = rig
            .call(Method::POST, &path, Some(text.clone()), &key)
            .await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["repeated"], true);
        assert_eq!(again["id"], first["id"]);
    }
    let got = rig.later_to(fritz, clerks, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].body.contains("hier ist Maria"));
    assert_eq!(
        got[0].reply_to.as_deref(),
        Some("wamid.fritz.1"),
        "it quotes what the customer last wrote"
    );
    // The turn is the person's, and the conversation is theirs until released.
    let (_, conversation) = rig
        .call(
            Method::GET,
            &format!("/v1/businesses/{SHOP}/conversations/wa:{fritz}"),
            None,
            &[],
        )
        .await;
    let turns = conversation["turns"].as_array().unwrap();
    assert_eq!(turns.last().unwrap()["role"], "person");
    assert_eq!(conversation["needs_person"], true);
    // A second reply (another key) follows the first.
    let (status, _) = rig
        .call(
            Method::POST,
            &path,
            Some(json!({"text": "Und sonntags ist zu."})),
            &[("Idempotency-Key", "maria-2")],
        )
        .await;
    assert_eq!(status, 201);
    let got = rig.later_to(fritz, clerks, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].body, "Und sonntags ist zu.");
    // Without a key the reply is refused before anything is written.
    let (status, body) = rig.call(Method::POST, &path, Some(text), &[]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));
}

#[tokio::test]
async fn outside_the_window_a_persons_reply_is_a_dead_letter_and_an_api_reply_a_turn() {
    let rig = Rig::start().await;
    let gerd = "4915100000007";
    rig.writes(
        gerd,
        "wamid.gerd.1",
        "Wann habt ihr geöffnet?",
        now() - 2 * DAY,
    )
    .await;
    rig.replies_to("wamid.gerd.1").await;
    let clerks = rig.sent_to(gerd);
    let path = format!("/v1/businesses/{SHOP}/conversations/wa:{gerd}/reply");
    for _ in 0..2 {
        let (status, body) = rig
            .call(
                Method::POST,
                &path,
                Some(json!({"text": "Entschuldigung für die späte Antwort."})),
                &[("Idempotency-Key", "late-1")],
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "undeliverable");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("24-hour window"));
    }
    let (_, dead) = rig
        .call(
            Method::GET,
            &format!("/v1/businesses/{SHOP}/whatsapp/dead-letters"),
            None,
            &[],
        )
        .await;
    let late: Vec<_> = dead["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["body"] == "Entschuldigung für die späte Antwort.")
        .collect();
    assert_eq!(late.len(), 1, "{dead}");
    assert!(rig.later_to(gerd, clerks, 0).await.is_empty());

    // An API conversation: the reply is a turn for its client to read.
    let (status, answer) = rig
        .call(
            Method::POST,
            &format!("/v1/businesses/{SHOP}/answer"),
            Some(json!({"question": "Wann habt ihr geöffnet?", "conversation_id": "web-42"})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, reply) = rig
        .call(
            Method::POST,
            &format!("/v1/businesses/{SHOP}/conversations/web-42/reply"),
            Some(json!({"text": "Gern auch telefonisch."})),
            &[("Idempotency-Key", "web-1")],
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["delivery"], "recorded");
    let (_, conversation) = rig
        .call(
            Method::GET,
            &format!("/v1/businesses/{SHOP}/conversations/web-42"),
            None,
            &[],
        )
        .await;
    let last = conversation["turns"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["role"], "person");
    assert_eq!(last["text"], "Gern auch telefonisch.");
    // A conversation that does not exist is 404.
    let (status, _) = rig
        .call(
            Method::POST,
            &format!("/v1/businesses/{SHOP}/conversations/nobody/reply"),
            Some(json!({"text": "Hallo?"})),
            &[("Idempotency-Key", "x")],
        )
        .await;
    assert_eq!(status, 404);
}
