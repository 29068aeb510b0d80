//! JSON and JSONL: products and FAQ entries as objects. A .json file may be an array of objects,
//! an object holding such arrays (`{"products": [...], "faq": [...]}`), or a single entry; a
//! .jsonl file has one object per line. Objects are read as raw JSON so that values keep their
//! exact text (`12.50` stays "12.50") and keys keep their order, and so errors can name the line
//! an entry starts on.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::product::Schema;
use super::{Budget, DocumentError, Limits, Passage, PassageKind};

const QUESTION_KEYS: &[&str] = &["question", "frage", "q", "pergunta", "pregunta"];
const ANSWER_KEYS: &[&str] = &["answer", "antwort", "a", "resposta", "respuesta"];
const CATEGORY_KEYS: &[&str] = &["category", "kategorie", "categoria", "topic", "thema"];
const EXPECTED: &str = "a product needs a \"name\" (or \"title\", \"product\", \"Produkt\", \"Titel\", \"Bezeichnung\") key, an FAQ entry \"question\" and \"answer\" (or \"Frage\"/\"Antwort\", \"q\"/\"a\", \"pergunta\"/\"resposta\")";

/// A JSON object's members in file order.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(V)
    }
}

pub(crate) fn passages(
    file: &str,
    text: &str,
    limits: &Limits,
    budget: &Budget,
) -> Result<Vec<Passage>, DocumentError> {
    let root: &RawValue = serde_json::from_str(text).map_err(|e| syntax_error(file, &e, 0))?;
    let items: Vec<&RawValue> = match first_char(root) {
        '[' => array(file, text, root)?,
        '{' => {
            let members = object(file, text, root)?;
            if entry_kind(&members).is_some() {
                vec![root]
            } else {
                let mut items = Vec::new();
                for (_, value) in members.0.iter().filter(|(_, v)| first_char(v) == '[') {
                    items.extend(array(file, text, value)?);
                }
                if items.is_empty() {
                    let keys: Vec<&str> = members.0.iter().map(|(k, _)| k.as_str()).collect();
                    return Err(DocumentError::malformed(
                        file,
                        Some(line_of(text, root)),
                        format!(
                            "expected a list of entries (for example {{\"products\": [...]}} or {{\"faq\": [...]}}) or a single entry, found an object with the keys {}; {EXPECTED}",
                            keys.join(", ")
                        ),
                    ));
                }
                items
            }
        }
        _ => {
            return Err(DocumentError::malformed(
                file,
                Some(line_of(text, root)),
                format!(
                    "expected a list of objects or an object, found {}",
                    kind_of(root)
                ),
            ))
        }
    };
    if items.len() > limits.max_rows {
        return Err(DocumentError::TooManyRows {
            file: file.to_string(),
            rows: items.len(),
            limit: limits.max_rows,
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            budget.check_every(file, i, 1024)?;
            entry(file, item, &format!("entry {}", i + 1), || {
                line_of(text, item)
            })
        })
        .collect()
}

pub(crate) fn passages_jsonl(
    file: &str,
    text: &str,
    limits: &Limits,
    budget: &Budget,
) -> Result<Vec<Passage>, DocumentError> {
    let mut passages = Vec::new();
    let mut rows = 0usize;
    for (i, line) in text.lines().enumerate() {
        budget.check_every(file, i, 1024)?;
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        rows += 1;
        if rows > limits.max_rows {
            continue; // keep counting so the error can say how many lines there are
        }
        let item: &RawValue = serde_json::from_str(line).map_err(|e| syntax_error(file, &e, i))?;
        passages.push(entry(file, item, "this line", || number)?);
    }
    if rows > limits.max_rows {
        return Err(DocumentError::TooManyRows {
            file: file.to_string(),
            rows,
            limit: limits.max_rows,
        });
    }
    Ok(passages)
}

fn array<'a>(
    file: &str,
    text: &'a str,
    raw: &'a RawValue,
) -> Result<Vec<&'a RawValue>, DocumentError> {
    serde_json::from_str(raw.get()).map_err(|e| syntax_error(file, &e, line_of(text, raw) - 1))
}

fn object<'a>(file: &str, text: &'a str, raw: &'a RawValue) -> Result<Members<'a>, DocumentError> {
    serde_json::from_str(raw.get()).map_err(|e| syntax_error(file, &e, line_of(text, raw) - 1))
}

/// One object as a Product or FAQ passage. `what` and `line` say where it is for errors; the
/// line is only worked out when needed, since finding it means counting from the file's start.
fn entry(
    file: &str,
    raw: &RawValue,
    what: &str,
    line: impl Fn() -> usize,
) -> Result<Passage, DocumentError> {
    if first_char(raw) != '{' {
        return Err(DocumentError::malformed(
            file,
            Some(line()),
            format!("{what} is {}, not an object; {EXPECTED}", kind_of(raw)),
        ));
    }
    let members: Members =
        serde_json::from_str(raw.get()).map_err(|e| syntax_error(file, &e, line() - 1))?;
    let values: Vec<String> = members.0.iter().map(|(_, v)| value_text(v)).collect();
    let value_of = |keys: &[&str]| {
        members
            .0
            .iter()
            .zip(&values)
            .find(|((k, _), v)| keys.contains(&k.trim().to_lowercase().as_str()) && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    match entry_kind(&members) {
        Some(Kind::Faq) => {
            let (Some(question), Some(answer)) = (value_of(QUESTION_KEYS), value_of(ANSWER_KEYS))
            else {
                return Err(DocumentError::malformed(
                    file,
                    Some(line()),
                    format!(
                        "{what} has an empty question or answer; fill both in or remove the entry"
                    ),
                ));
            };
            let path = value_of(CATEGORY_KEYS).into_iter().collect();
            Ok(Passage::new(PassageKind::Faq, &question, path, &answer))
        }
        Some(Kind::Product) => {
            let keys: Vec<String> = members.0.iter().map(|(k, _)| k.clone()).collect();
            let schema = Schema::new(&keys);
            schema.product(&values).ok_or_else(|| {
                DocumentError::malformed(
                    file,
                    Some(line()),
                    format!(
                        "{what} has an empty \"{}\"; fill in a name or remove the entry",
                        schema.name_label().unwrap_or("name")
                    ),
                )
            })
        }
        None => {
            let keys: Vec<&str> = members.0.iter().map(|(k, _)| k.as_str()).collect();
            Err(DocumentError::malformed(
                file,
                Some(line()),
                format!(
                    "{what} is neither a product nor an FAQ entry (its keys: {}); {EXPECTED}",
                    keys.join(", ")
                ),
            ))
        }
    }
}

enum Kind {
    Product,
    Faq,
}

fn entry_kind(members: &Members) -> Option<Kind> {
    let has = |keys: &[&str]| {
        members
            .0
            .iter()
            .any(|(k, _)| keys.contains(&k.trim().to_lowercase().as_str()))
    };
    if has(QUESTION_KEYS) && has(ANSWER_KEYS) {
        return Some(Kind::Faq);
    }
    let keys: Vec<String> = members.0.iter().map(|(k, _)| k.clone()).collect();
    Schema::new(&keys).name_label().map(|_| Kind::Product)
}

/// A value as text: strings unquoted, numbers and booleans exactly as written, null as nothing,
/// arrays and objects as compact JSON.
fn value_text(raw: &RawValue) -> String {
    let text = raw.get().trim();
    match first_char(raw) {
        '"' => serde_json::from_str::<String>(text).unwrap_or_default(),
        '{' | '[' => serde_json::from_str::<serde_json::Value>(text)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| text.to_string()),
        'n' => String::new(),
        _ => text.to_string(),
    }
}

fn first_char(raw: &RawValue) -> char {
    raw.get().trim_start().chars().next().unwrap_or(' ')
}

fn kind_of(raw: &RawValue) -> &'static str {
    match first_char(raw) {
        '"' => "a string",
        '[' => "a list",
        '{' => "an object",
        't' | 'f' => "true/false",
        'n' => "null",
        _ => "a number",
    }
}

/// The 1-based line of `text` on which `raw` starts; `raw` borrows from `text`.
fn line_of(text: &str, raw: &RawValue) -> usize {
    let offset = (raw.get().as_ptr() as usize)
        .checked_sub(text.as_ptr() as usize)
        .filter(|&o| o <= text.len())
        .unwrap_or(0);
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A serde_json syntax error as Malformed; `lines_before` is added to serde's line (for JSONL
/// lines and nested values parsed on their own).
fn syntax_error(file: &str, e: &serde_json::Error, lines_before: usize) -> DocumentError {
    let line = e.line() + lines_before;
    let message = e.to_string();
    let message = message
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .unwrap_or(&message);
    let hint = if e.is_eof() {
        "the file ends too early; check for a missing ] or }"
    } else {
        "check for a missing comma, quote or bracket near there"
    };
    DocumentError::malformed(
        file,
        Some(line),
        format!("invalid JSON at column {}: {message}; {hint}", e.column()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Passage>, DocumentError> {
        let limits = Limits::default();
        passages("x.json", text, &limits, &limits.budget(Default::default()))
    }

    #[test]
    fn numbers_keep_their_text_and_keys_their_order() {
        let got = parse(r#"[{"zeta": 1, "name": "Tee", "price": 12.50, "stock": 3, "tags": ["a", "b"], "alpha": null}]"#).unwrap();
        let fields = got[0].product.clone().unwrap();
        assert_eq!(fields.price.as_deref(), Some("12.50"));
        assert_eq!(fields.stock.as_deref(), Some("3"));
        assert_eq!(
            fields.attributes,
            [
                ("zeta".to_string(), "1".to_string()),
                ("tags".to_string(), r#"["a","b"]"#.to_string())
            ]
        );
    }

    #[test]
    fn errors_name_lines() {
        let err = parse("[\n{\"name\": \"a\"},\n{\"colour\": \"red\"}\n]").unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
        assert!(err.to_string().contains("entry 2"), "{err}");
        let err = parse("{\"products\": [\n{\"name\": \"a\"}\n{\"name\": \"b\"}]}").unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
        let err = parse("\n\n[1, 2").unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
    }
}
