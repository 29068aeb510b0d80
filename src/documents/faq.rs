//! Recognizing FAQ material in prose: questions (text ending in "?") and the `Q:`/`A:` labels people
//! type in English, German (`Frage:`/`Antwort:`, `F:`/`A:`), Portuguese (`Pergunta:`/`Resposta:`,
//! `P:`/`R:`) and Spanish (`Pregunta:`/`Respuesta:`).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    Question,
    Answer,
}

const QUESTION_LABELS: &[&str] = &["q", "question", "frage", "f", "p", "pergunta", "pregunta"];
const ANSWER_LABELS: &[&str] = &["a", "answer", "antwort", "r", "resposta", "respuesta"];

/// A `Label:` at the start of `text`, with the text after it.
pub(crate) fn label(text: &str) -> Option<(Label, &str)> {
    let text = text.trim_start();
    let word_end = text
        .char_indices()
        .find(|&(_, c)| !c.is_alphabetic())
        .map_or(text.len(), |(i, _)| i);
    let word = text[..word_end].to_lowercase();
    let rest = text[word_end..].trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix(':')?.trim_start();
    if QUESTION_LABELS.contains(&word.as_str()) {
        Some((Label::Question, rest))
    } else if ANSWER_LABELS.contains(&word.as_str()) {
        Some((Label::Answer, rest))
    } else {
        None
    }
}

/// True when the text reads as a question: it ends in "?" (trailing colon, quotes or emphasis
/// markers aside) and holds at least one letter.
pub(crate) fn is_question(text: &str) -> bool {
    let text = text
        .trim()
        .trim_end_matches([':', '*', '_', '"', '\'', '”', '’', '»', ' ']);
    (text.ends_with('?') || text.ends_with('？')) && text.chars().any(char::is_alphabetic)
}

/// The question without a leading `Q:`-style label, as used for FAQ titles.
pub(crate) fn question_text(text: &str) -> &str {
    match label(text) {
        Some((Label::Question, rest)) if !rest.is_empty() => rest,
        _ => text.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_in_several_languages() {
        assert_eq!(label("Q: Wie?"), Some((Label::Question, "Wie?")));
        assert_eq!(label("  Frage : Wie?"), Some((Label::Question, "Wie?")));
        assert_eq!(label("ANTWORT:So."), Some((Label::Answer, "So.")));
        assert_eq!(label("Pergunta: Onde?"), Some((Label::Question, "Onde?")));
        assert_eq!(label("R: Aqui."), Some((Label::Answer, "Aqui.")));
        assert_eq!(label("A:"), Some((Label::Answer, "")));
        assert_eq!(label("Adresse: Hauptstr. 1"), None);
        assert_eq!(label("Q und A"), None);
    }

    #[test]
    fn questions() {
        assert!(is_question("Wie lange dauert der Versand?"));
        assert!(is_question("Do you ship abroad?:"));
        assert!(is_question("¿Hacen envíos?"));
        assert!(!is_question("Versand"));
        assert!(!is_question("???"));
        assert_eq!(question_text("Q: Why?"), "Why?");
    }
}
