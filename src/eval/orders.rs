//! Order messages against the demo businesses' `order-eval.json`: does a customer's message
//! become the order they meant (the products, the number of pieces the stock allows, pickup or
//! delivery), a list to pick from when their words fit several products, a refusal when the
//! product is sold out, and nothing at all when it is a question, a thanks or a complaint.
//!
//! Every message goes through `Engine::order_turn` exactly as the WhatsApp worker sends it,
//! in a conversation of its own with the case's earlier turns as history; the language is
//! detected from the message as the worker does, and the catalog has the sentence encoder the
//! service would give it (`--encoder none` leaves it without). The files were written from the catalogs by
//! someone who had not read the ordering code; dev is what rules may be fitted on, test is
//! only reported.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::demo::{index_demo, Split};
use super::{EvalError, Retrieval};
use crate::answer::{language, Role, Turn};
use crate::engine::{Choices, Engine, EngineLimits, OrderMessage, OrderReply, OrderStep};
use crate::index::Catalog;
use crate::store::{Fulfilment, OrderCustomer};

/// What a case expects the message to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// An order of the products named (or the one the conversation was about).
    Order,
    /// Several products fit: the customer is asked which.
    Choose,
    /// The product is sold out: refused, no order.
    SoldOut,
    /// No order at all: the answer pipeline answers it.
    NotOrder,
}

#[derive(Debug, Clone, Deserialize)]
struct HistoryTurn {
    role: String,
    text: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ExpectedItem {
    title: String,
    quantity: u32,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Expected {
    #[serde(default)]
    items: Vec<ExpectedItem>,
    #[serde(default)]
    fulfilment: Option<Fulfilment>,
    #[serde(default)]
    candidates: Vec<String>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct OrderCase {
    split: Split,
    kind: CaseKind,
    #[serde(default)]
    history: Vec<HistoryTurn>,
    message: String,
    #[serde(default)]
    expected: Expected,
}

#[derive(Debug, Clone, Deserialize)]
struct OrderEvalFile {
    cases: Vec<OrderCase>,
}

/// How the cases of one kind fared.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KindReport {
    pub cases: usize,
    /// Answered as expected in every respect the kind has.
    pub right: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderReport {
    pub business: String,
    pub split: Split,
    pub cases: usize,
    /// Cases answered as expected in every respect.
    pub right: usize,
    /// Of the messages the order conversation took up, the share that were orders (order,
    /// choose or sold-out cases); 1 when it took up none.
    pub intent_precision: f64,
    /// Of the order, choose and sold-out cases, the share it took up.
    pub intent_recall: f64,
    /// Order cases whose draft holds exactly the expected products and quantities (the
    /// quantity capped at a numeric stock), and of those with the expected pickup/delivery.
    pub orders: usize,
    pub orders_items_right: usize,
    pub orders_fulfilment_right: usize,
    pub by_kind: BTreeMap<CaseKind, KindReport>,
    pub problems: Vec<String>,
}

/// Indexes every (or one) demo business with an order eval file and scores it, per split (or
/// only `split`).
pub fn evaluate(
    corpus_dir: &Path,
    only: Option<&str>,
    split: Option<Split>,
    retrieval: &Retrieval,
) -> Result<Vec<OrderReport>, EvalError> {
    let scratch = tempfile::tempdir()?;
    let engine = retrieval.apply(Engine::open(scratch.path(), EngineLimits::default())?)?;
    let mut reports = Vec::new();
    for (id, _) in index_demo(&engine, corpus_dir, only)? {
        let path = corpus_dir.join(&id).join("order-eval.json");
        if !path.exists() {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let file: OrderEvalFile = serde_json::from_slice(&bytes)
            .map_err(|e| EvalError::data(&path, format!("not an order eval file: {e}")))?;
        let Some(catalog) = engine.catalog(&id)? else {
            continue;
        };
        for split in Split::ALL
            .into_iter()
            .filter(|s| split.is_none_or(|o| o == *s))
        {
            let cases: Vec<&OrderCase> = file.cases.iter().filter(|c| c.split == split).collect();
            if !cases.is_empty() {
                reports.push(score(&engine, &id, &catalog, split, &cases)?);
            }
        }
    }
    Ok(reports)
}

/// What became of one message, as the eval compares it.
#[derive(Debug)]
enum Outcome {
    NotTaken,
    Drafted {
        items: Vec<(String, u32)>,
        fulfilment: Option<Fulfilment>,
    },
    Asked(Vec<String>),
    SoldOut(String),
    Other(OrderStep),
}

fn outcome(reply: Option<OrderReply>) -> Outcome {
    let Some(reply) = reply else {
        return Outcome::NotTaken;
    };
    match (reply.step, reply.order, reply.choices) {
        (OrderStep::Summarized, Some(order), _) => Outcome::Drafted {
            items: order
                .items
                .iter()
                .map(|i| (i.title.clone(), i.quantity))
                .collect(),
            fulfilment: order.fulfilment,
        },
        (OrderStep::AskedWhich, _, Some(Choices::List { rows, .. })) => {
            Outcome::Asked(rows.into_iter().map(|r| r.title).collect())
        }
        (OrderStep::SoldOut, _, _) => Outcome::SoldOut(reply.text),
        (step, _, _) => Outcome::Other(step),
    }
}

fn history_of(case: &OrderCase) -> Vec<Turn> {
    case.history
        .iter()
        .map(|t| Turn {
            role: if t.role == "customer" {
                Role::Customer
            } else {
                Role::Assistant
            },
            text: t.text.clone(),
        })
        .collect()
}

/// The pieces an order of `asked` can hold: never more than a numeric stock.
fn capped(catalog: &Catalog, title: &str, asked: u32) -> u32 {
    let stock = catalog
        .entries()
        .iter()
        .find(|e| e.title == title)
        .and_then(|e| e.fields.stock.as_deref())
        .and_then(|s| s.trim().parse::<u32>().ok());
    stock.map_or(asked, |s| asked.min(s))
}

fn score(
    engine: &Engine,
    id: &str,
    catalog: &Catalog,
    split: Split,
    cases: &[&OrderCase],
) -> Result<OrderReport, EvalError> {
    let fallback = engine.language_of(id)?;
    let mut by_kind: BTreeMap<CaseKind, KindReport> = BTreeMap::new();
    let mut problems = Vec::new();
    let (mut taken, mut taken_right, mut positives, mut positives_taken) = (0, 0, 0, 0);
    let (mut orders, mut items_right, mut fulfilment_right) = (0, 0, 0);
    for (n, case) in cases.iter().enumerate() {
        let history = history_of(case);
        let conversation = format!("eval-{}-{n}", split.as_str());
        let key = format!("eval:{}:{n}", split.as_str());
        let language = language::detect(&case.message, &fallback);
        let message = OrderMessage {
            customer: OrderCustomer::Api,
            conversation: &conversation,
            text: &case.message,
            choice: None,
            key: &key,
            history: &history,
            language: &language,
        };
        let got = outcome(engine.order_turn(id, &message)?);
        let is_positive = case.kind != CaseKind::NotOrder;
        let was_taken = !matches!(got, Outcome::NotTaken);
        positives += usize::from(is_positive);
        positives_taken += usize::from(is_positive && was_taken);
        taken += usize::from(was_taken);
        taken_right += usize::from(is_positive && was_taken);
        let right = match (case.kind, &got) {
            (CaseKind::NotOrder, Outcome::NotTaken) => true,
            (CaseKind::Order, Outcome::Drafted { items, fulfilment }) => {
                orders += 1;
                let mut want: Vec<(String, u32)> = case
                    .expected
                    .items
                    .iter()
                    .map(|i| (i.title.clone(), capped(catalog, &i.title, i.quantity)))
                    .collect();
                let mut have = items.clone();
                want.sort();
                have.sort();
                let items_ok = want == have;
                let fulfilment_ok = *fulfilment == case.expected.fulfilment;
                items_right += usize::from(items_ok);
                fulfilment_right += usize::from(items_ok && fulfilment_ok);
                items_ok && fulfilment_ok
            }
            (CaseKind::Order, _) => {
                orders += 1;
                false
            }
            (CaseKind::Choose, Outcome::Asked(rows)) => {
                let mut want = case.expected.candidates.clone();
                let mut have = rows.clone();
                want.sort();
                have.sort();
                want == have
            }
            (CaseKind::SoldOut, Outcome::SoldOut(text)) => case
                .expected
                .title
                .as_deref()
                .is_none_or(|t| text.contains(t)),
            _ => false,
        };
        let kind = by_kind.entry(case.kind).or_default();
        kind.cases += 1;
        kind.right += usize::from(right);
        if !right {
            problems.push(format!(
                "[{:?}] {:?}: got {}",
                case.kind,
                case.message,
                describe(&got)
            ));
        }
    }
    let share = |part: usize, whole: usize| {
        if whole == 0 {
            1.0
        } else {
            part as f64 / whole as f64
        }
    };
    Ok(OrderReport {
        business: id.to_string(),
        split,
        cases: cases.len(),
        right: by_kind.values().map(|k| k.right).sum(),
        intent_precision: share(taken_right, taken),
        intent_recall: share(positives_taken, positives),
        orders,
        orders_items_right: items_right,
        orders_fulfilment_right: fulfilment_right,
        by_kind,
        problems,
    })
}

fn describe(got: &Outcome) -> String {
    match got {
        Outcome::NotTaken => "no order".to_string(),
        Outcome::Drafted { items, fulfilment } => format!(
            "a draft of {} ({})",
            items
                .iter()
                .map(|(t, q)| format!("{q} × {t}"))
                .collect::<Vec<_>>()
                .join(", "),
            fulfilment.map_or("fulfilment not said", |f| f.as_str())
        ),
        Outcome::Asked(rows) => format!("a list of {rows:?}"),
        Outcome::SoldOut(_) => "sold out".to_string(),
        Outcome::Other(step) => step.as_str().to_string(),
    }
}
