//! The few things clerk says on WhatsApp in its own words, in every language it speaks; the
//! words customers use to ask for a person or to opt out; and splitting a long reply into
//! messages WhatsApp accepts.

/// Words that, in a short message, ask for a person (the default list; configurable).
pub const HANDOFF_WORDS: &[&str] = &[
    "human",
    "person",
    "agent",
    "operator",
    "representative",
    "mitarbeiter",
    "mitarbeiterin",
    "mensch",
    "menschen",
    "atendente",
    "humano",
    "pessoa",
    "agente",
    "persona",
    "operador",
    "humain",
    "conseiller",
    "opérateur",
    "medewerker",
    "operatore",
];

/// A message of at most this many words may be a request for a person; a longer one that
/// happens to hold such a word ("does the agent series come in German?") is a question.
const HANDOFF_MAX_WORDS: usize = 10;

/// Whole messages that opt a customer out of, or back into, clerk's replies.
const STOP_WORDS: &[&str] = &[
    "stop",
    "stopp",
    "unsubscribe",
    "abmelden",
    "parar",
    "sair",
    "pare",
    "arret",
    "arrêt",
    "baja",
    "stoppen",
];
const START_WORDS: &[&str] = &[
    "start", "unstop", "anmelden", "iniciar", "começar", "comecar",
];

/// The longest text body WhatsApp accepts, in UTF-16 code units (as Meta counts).
pub const MAX_BODY: usize = 4096;

fn words(message: &str) -> Vec<String> {
    message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether the customer is asking to talk to a person.
pub fn asks_for_person(message: &str, handoff_words: &[String]) -> bool {
    let words = words(message);
    words.len() <= HANDOFF_MAX_WORDS
        && words
            .iter()
            .any(|w| handoff_words.iter().any(|h| h.eq_ignore_ascii_case(w)))
}

/// Some(true) for an opt-out ("STOP"), Some(false) for opting back in ("START").
pub fn opt_out_request(message: &str) -> Option<bool> {
    let words = words(message);
    match words.as_slice() {
        [word] if STOP_WORDS.contains(&word.as_str()) => Some(true),
        [word] if START_WORDS.contains(&word.as_str()) => Some(false),
        _ => None,
    }
}

/// The reply to a message clerk cannot read.
pub fn written_only(language: &str) -> &'static str {
    match language {
        "de" => "Ich kann leider nur geschriebene Fragen beantworten. Schreiben Sie mir Ihre Frage bitte als Text.",
        "fr" => "Je ne peux répondre qu'aux questions écrites. Merci de m'envoyer votre question par écrit.",
        "es" => "Solo puedo responder preguntas escritas. Por favor, escríbame su pregunta.",
        "pt" => "Só consigo responder a perguntas escritas. Por favor, envie a sua pergunta por texto.",
        "it" => "Posso rispondere solo a domande scritte. Mi scriva la sua domanda, per favore.",
        "nl" => "Ik kan alleen geschreven vragen beantwoorden. Stuur uw vraag alstublieft als tekst.",
        _ => "Sorry, I can only answer written questions. Please send me your question as text.",
    }
}

/// The reply when a customer asks for a person.
pub fn handoff(language: &str) -> &'static str {
    match language {
        "de" => "Gern, ich gebe Sie an eine Kollegin oder einen Kollegen weiter. Sie melden sich hier bei Ihnen.",
        "fr" => "Bien sûr, je vous passe à un collègue. Il vous répondra ici.",
        "es" => "Claro, le paso con un compañero. Le responderá por aquí.",
        "pt" => "Claro, vou passar você para um colega. Ele vai responder por aqui.",
        "it" => "Certo, la passo a un collega. Le risponderà qui.",
        "nl" => "Natuurlijk, ik geef u door aan een collega. Die antwoordt u hier.",
        _ => "Sure, I'm passing you to a colleague. They will answer you here.",
    }
}

/// The confirmation of an opt-out.
pub fn opted_out(language: &str) -> &'static str {
    match language {
        "de" => "Sie erhalten keine weiteren Nachrichten von uns. Schreiben Sie START, um wieder Antworten zu bekommen.",
        "fr" => "Vous ne recevrez plus de messages de notre part. Écrivez START pour en recevoir à nouveau.",
        "es" => "No recibirá más mensajes nuestros. Escriba START para volver a recibir respuestas.",
        "pt" => "Você não receberá mais mensagens nossas. Escreva START para voltar a receber respostas.",
        "it" => "Non riceverà altri messaggi da noi. Scriva START per ricevere di nuovo risposte.",
        "nl" => "U ontvangt geen berichten meer van ons. Stuur START om weer antwoorden te krijgen.",
        _ => "You will get no more messages from us. Write START to get answers again.",
    }
}

/// The confirmation of opting back in.
pub fn opted_in(language: &str) -> &'static str {
    match language {
        "de" => "Willkommen zurück! Stellen Sie uns gern Ihre Frage.",
        "fr" => "Bon retour ! Posez-nous votre question.",
        "es" => "¡Bienvenido de nuevo! Háganos su pregunta.",
        "pt" => "Bem-vindo de volta! Faça a sua pergunta.",
        "it" => "Bentornato! Ci faccia pure la sua domanda.",
        "nl" => "Welkom terug! Stel gerust uw vraag.",
        _ => "Welcome back! Ask us anything.",
    }
}

/// The handoff word each language's disclosure names, when the configured list has it.
fn handoff_word_for(language: &str) -> &'static str {
    match language {
        "de" => "Mitarbeiter",
        "fr" => "conseiller",
        "es" => "persona",
        "pt" => "atendente",
        "it" => "operatore",
        "nl" => "medewerker",
        _ => "person",
    }
}

/// What a customer is told before clerk's first reply, and the first after a long silence
/// (EU AI Act Art. 50): that `business`'s assistant is automated, and the word that brings a
/// person — the language's own when `handoff_words` has it, else the first configured one.
pub fn disclosure(language: &str, business: &str, handoff_words: &[String]) -> String {
    let preferred = handoff_word_for(language);
    let word = if handoff_words
        .iter()
        .any(|w| w.eq_ignore_ascii_case(preferred))
    {
        preferred.to_string()
    } else {
        handoff_words
            .first()
            .cloned()
            .unwrap_or_else(|| preferred.to_string())
    };
    match language {
        "de" => format!("Hinweis: Sie schreiben mit dem automatischen Assistenten von {business}. Wenn Sie lieber mit einem Menschen sprechen, schreiben Sie einfach „{word}“."),
        "fr" => format!("À savoir : vous écrivez avec l'assistant automatique de {business}. Pour parler à une personne, écrivez « {word} »."),
        "es" => format!("Aviso: está escribiendo con el asistente automático de {business}. Para hablar con una persona, escriba «{word}»."),
        "pt" => format!("Aviso: você está conversando com o assistente automático de {business}. Para falar com uma pessoa, escreva \"{word}\"."),
        "it" => format!("Nota: sta scrivendo con l'assistente automatico di {business}. Per parlare con una persona, scriva \"{word}\"."),
        "nl" => format!("Let op: u schrijft met de automatische assistent van {business}. Wilt u een mens spreken, schrijf dan \"{word}\"."),
        _ => format!("Please note: you are writing with {business}'s automated assistant. To reach a person, just write \"{word}\"."),
    }
}

/// The label before the sources a reply cites.
pub fn source_label(language: &str) -> &'static str {
    match language {
        "de" => "Quelle",
        "es" => "Fuente",
        "pt" | "it" => "Fonte",
        "nl" => "Bron",
        _ => "Source",
    }
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Splits `text` into bodies of at most `max` UTF-16 units, at paragraph breaks where it can,
/// else at sentence ends, else between words, else anywhere.
pub fn split_reply(text: &str, max: usize) -> Vec<String> {
    let text = text.trim();
    if utf16_len(text) <= max {
        return if text.is_empty() {
            Vec::new()
        } else {
            vec![text.to_string()]
        };
    }
    // The longest prefix that fits, then the best break inside it.
    let mut fit = 0;
    let mut units = 0;
    for (i, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            break;
        }
        fit = i + c.len_utf8();
    }
    let head = &text[..fit];
    let cut = head
        .rfind("\n\n")
        .or_else(|| {
            head.rmatch_indices(['.', '!', '?', '\n'])
                .map(|(i, _)| i + 1)
                .find(|&i| i > 0 && text[i..].starts_with(char::is_whitespace))
        })
        .or_else(|| head.rfind(char::is_whitespace))
        .filter(|&i| i > 0)
        .unwrap_or(fit);
    let mut parts = vec![text[..cut].trim_end().to_string()];
    parts.extend(split_reply(&text[cut..], max));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        HANDOFF_WORDS.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn requests_for_a_person_are_short_messages_naming_one() {
        assert!(asks_for_person("Can I talk to a human?", &defaults()));
        assert!(asks_for_person(
            "Ich möchte mit einem Mitarbeiter sprechen",
            &defaults()
        ));
        assert!(asks_for_person("quero falar com um atendente", &defaults()));
        assert!(!asks_for_person("Do you have the Zauberberg?", &defaults()));
        assert!(!asks_for_person(
            "Is the book about the secret agent who travels to Lisbon in winter also in German?",
            &defaults()
        ));
    }

    #[test]
    fn the_disclosure_names_a_word_that_brings_a_person() {
        for language in ["de", "en", "pt", "es", "fr", "it", "nl"] {
            let text = disclosure(language, "Lindenblatt", &defaults());
            assert!(text.contains("Lindenblatt"), "{text}");
            let word = text
                .split(['„', '“', '"', '«', '»'])
                .nth(1)
                .unwrap_or_default()
                .trim();
            assert!(asks_for_person(word, &defaults()), "{language}: {word:?}");
        }
        assert!(disclosure("de", "X", &defaults()).contains("„Mitarbeiter“"));
        // A list without the language's word: the first configured word is named.
        let own = vec!["kollege".to_string()];
        assert!(disclosure("de", "X", &own).contains("„kollege“"));
    }

    #[test]
    fn only_a_bare_stop_opts_out() {
        assert_eq!(opt_out_request("STOP"), Some(true));
        assert_eq!(opt_out_request(" stopp! "), Some(true));
        assert_eq!(opt_out_request("Start"), Some(false));
        assert_eq!(opt_out_request("stop sending me the newsletter"), None);
        assert_eq!(opt_out_request("when do you open?"), None);
    }

    #[test]
    fn long_replies_split_at_paragraphs_then_sentences() {
        let paragraph = "a".repeat(3000);
        let text = format!("{paragraph}\n\n{paragraph}");
        let parts = split_reply(&text, MAX_BODY);
        assert_eq!(parts, vec![paragraph.clone(), paragraph]);

        let sentence = format!("{}.", "word ".repeat(300).trim_end());
        let text = [sentence.as_str(); 3].join(" ");
        let parts = split_reply(&text, MAX_BODY);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.ends_with('.')));
        assert!(parts.iter().all(|p| utf16_len(p) <= MAX_BODY));

        // Emoji count twice in UTF-16; nothing is lost or cut inside a character.
        let text = "😀".repeat(3000);
        let parts = split_reply(&text, MAX_BODY);
        assert!(parts.iter().all(|p| utf16_len(p) <= MAX_BODY));
        assert_eq!(parts.concat(), text);
        assert!(split_reply("  ", MAX_BODY).is_empty());
    }
}
