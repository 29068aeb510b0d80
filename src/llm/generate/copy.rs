//! Copy-constrained decoding of figures: every number the model writes is one its sources
//! write, copied character for character. A small model asked for Saturday's hours from
//! "9:30–18:00" writes "9:00" as readily as "9:30"; the fact check would withdraw the draft
//! afterwards, so the figure is fenced in while it is written instead.
//!
//! The rule works on text, not token ids, so it holds for any tokenizer (Qwen writes a digit per
//! token, others several): a figure is a run of digits and the joiners the fact check joins
//! digits with ('.', ',', ':' and, inside a phone number, ' '). While one is being written it
//! must be the beginning of an allowed figure; where it ends it must be a whole one. A token is
//! taken only if every character it adds keeps that true, so greedy decoding picks the most
//! likely token that copies (`Sampler::sample_where`). Text outside figures is left to the model.
//! A source's number in brackets ("[2]") is a citation, not a figure; the answer layer takes
//! those out of the reply.

/// The figures a reply may contain, as its sources write them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyFigures {
    allowed: Vec<String>,
    /// How many numbered sources the prompt has: "[1]" … "[n]" cite them and are no figure.
    citations: usize,
}

impl CopyFigures {
    /// Figures as the sources write them ("9:30", "14,90", "+49 30 1234567"); each is also
    /// allowed without leading zeros and without a zero tail ("09:00" → "9:00", "9").
    pub fn new(figures: impl IntoIterator<Item = String>) -> CopyFigures {
        let mut allowed: Vec<String> = Vec::new();
        for figure in figures {
            let figure = figure.trim_start_matches('+').to_string();
            if !figure.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            for variant in variants(&figure) {
                if !allowed.contains(&variant) {
                    allowed.push(variant);
                }
            }
        }
        allowed.sort();
        CopyFigures {
            allowed,
            citations: 0,
        }
    }

    /// Also lets the reply cite the prompt's `sources` numbered sources as "[1]" … "[n]".
    pub fn citing(mut self, sources: usize) -> CopyFigures {
        self.citations = sources;
        self
    }

    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    fn is_prefix(&self, partial: &str) -> bool {
        self.allowed.iter().any(|a| a.starts_with(partial))
    }

    fn is_whole(&self, figure: &str) -> bool {
        self.allowed.iter().any(|a| a == figure)
    }

    fn is_citation_prefix(&self, digits: &str) -> bool {
        (1..=self.citations).any(|n| n.to_string().starts_with(digits))
    }

    fn is_citation(&self, digits: &str) -> bool {
        digits
            .parse::<usize>()
            .is_ok_and(|n| (1..=self.citations).contains(&n))
            && !digits.starts_with('0')
    }
}

/// "09:00" → "09:00", "9:00", "09", "9": the forms the fact check counts as the same figure.
fn variants(figure: &str) -> Vec<String> {
    let mut out = vec![figure.to_string()];
    let unpadded = figure.trim_start_matches('0');
    if unpadded.len() < figure.len() {
        let unpadded = if unpadded.starts_with(|c: char| c.is_ascii_digit()) {
            unpadded.to_string()
        } else {
            format!("0{unpadded}")
        };
        out.push(unpadded);
    }
    for form in out.clone() {
        let mut rest = form.as_str();
        // A trailing group of one or two zeros after a joiner says nothing more ("649.00").
        while let Some(at) = rest.rfind(['.', ',', ':']) {
            let tail = &rest[at + 1..];
            if tail.len() <= 2 && !tail.is_empty() && tail.chars().all(|c| c == '0') {
                rest = &rest[..at];
                out.push(rest.to_string());
            } else {
                break;
            }
        }
    }
    out
}

fn is_joiner(c: char) -> bool {
    matches!(c, '.' | ',' | ':' | ' ')
}

/// Where a reply stands with respect to the figure being written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyState {
    /// The figure written so far (it may end in a joiner that could still join a digit);
    /// empty outside a figure.
    figure: String,
    /// The last character was '[', so digits after it may cite a source.
    bracket: bool,
    /// The digits after '[' being written, while they can still be a source's number.
    citation: Option<String>,
}

impl CopyState {
    /// The state after `text` is written, or `None` if it writes a figure the rule forbids.
    pub fn after(&self, rule: &CopyFigures, text: &str) -> Option<CopyState> {
        let mut state = self.clone();
        for c in text.chars() {
            state.push(rule, c)?;
        }
        Some(state)
    }

    /// Whether the reply may end here (no figure is left half written).
    pub fn can_end(&self, rule: &CopyFigures) -> bool {
        let figure_done =
            self.figure.is_empty() || rule.is_whole(self.figure.trim_end_matches(is_joiner));
        figure_done && self.citation.is_none()
    }

    fn push(&mut self, rule: &CopyFigures, c: char) -> Option<()> {
        let after_bracket = std::mem::replace(&mut self.bracket, c == '[');
        if let Some(mut digits) = self.citation.take() {
            if c == ']' && rule.is_citation(&digits) {
                return Some(());
            }
            digits.push(c);
            if c.is_ascii_digit() && rule.is_citation_prefix(&digits) {
                self.citation = Some(digits);
                return Some(());
            }
            // Not a citation after all: what was written is a figure like any other.
            self.figure = digits[..digits.len() - c.len_utf8()].to_string();
            if !rule.is_prefix(&self.figure) {
                return None;
            }
        } else if after_bracket && c.is_ascii_digit() && rule.is_citation_prefix(&c.to_string()) {
            self.citation = Some(c.to_string());
            return Some(());
        }
        if c.is_ascii_digit() {
            let mut longer = self.figure.clone();
            longer.push(c);
            if !rule.is_prefix(&longer) {
                return None;
            }
            self.figure = longer;
        } else if !self.figure.is_empty() && is_joiner(c) {
            let mut longer = self.figure.clone();
            longer.push(c);
            if self.figure.ends_with(is_joiner) || !rule.is_prefix(&longer) {
                // The figure ended before this character (or before the joiner before it).
                self.end(rule)?;
            } else {
                self.figure = longer;
            }
        } else if !self.figure.is_empty() {
            self.end(rule)?;
        }
        Some(())
    }

    fn end(&mut self, rule: &CopyFigures) -> Option<()> {
        if !self.can_end(rule) {
            return None;
        }
        self.figure.clear();
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(figures: &[&str]) -> CopyFigures {
        CopyFigures::new(figures.iter().map(|f| f.to_string()))
    }

    fn writes(rule: &CopyFigures, text: &str) -> bool {
        CopyState::default()
            .after(rule, text)
            .is_some_and(|s| s.can_end(rule))
    }

    #[test]
    fn figures_are_copied_whole_and_nothing_else_passes() {
        let r = rule(&["9:30", "18:00", "14,90"]);
        assert!(writes(&r, "Samstags von 9:30 bis 18:00 Uhr."));
        assert!(writes(&r, "Es kostet 14,90 €."));
        assert!(
            !writes(&r, "Samstags ab 9:00."),
            "a time the sources do not write"
        );
        assert!(!writes(&r, "Es kostet 14 €."), "a figure cut short");
        assert!(!writes(&r, "Es kostet 14,9"), "a figure left half written");
        assert!(
            !writes(&r, "Es kostet 149"),
            "digits run on past the figure"
        );
    }

    #[test]
    fn the_forms_the_check_counts_as_equal_are_allowed() {
        let r = rule(&["09:00", "649.00"]);
        for ok in [
            "ab 09:00",
            "ab 9:00",
            "ab 9 Uhr",
            "für 649 €",
            "für 649.00 €",
        ] {
            assert!(writes(&r, ok), "{ok}");
        }
        assert!(!writes(&r, "für 64"));
    }

    #[test]
    fn a_joiner_that_ends_a_sentence_ends_the_figure() {
        let r = rule(&["19", "19:30"]);
        assert!(writes(&r, "Bis 19. Danach geschlossen."));
        assert!(writes(&r, "Bis 19:30."));
        assert!(writes(&r, "bis 19, danach"));
        assert!(!writes(&r, "Bis 19:45."));
    }

    #[test]
    fn token_by_token_the_state_says_what_may_follow() {
        let r = rule(&["16:00"]);
        let s = CopyState::default().after(&r, "bis ").unwrap();
        assert!(s.after(&r, "2").is_none());
        let s = s.after(&r, "1").unwrap();
        assert!(!s.can_end(&r), "an unfinished figure may not end the reply");
        assert!(s.after(&r, " Uhr").is_none());
        let s = s.after(&r, "6").unwrap().after(&r, ":").unwrap();
        assert!(s.after(&r, "3").is_none());
        assert!(s.after(&r, "00 Uhr").is_some());
    }

    #[test]
    fn the_sources_numbers_may_be_cited_in_brackets() {
        let r = rule(&["16:00"]).citing(2);
        assert!(writes(&r, "Bis 16:00 [1]."));
        assert!(writes(&r, "Bis 16:00 [2][1]."));
        assert!(!writes(&r, "Bis 16:00 [3]."), "no third source");
        assert!(!writes(&r, "Bis 16:00 [1"), "a citation left open");
        assert!(
            !writes(&r, "Bis [16:30]"),
            "a bracket does not make a figure a citation"
        );
        assert!(writes(&r, "Bis [16:00]"));
        assert!(
            !writes(&rule(&["16:00"]), "Bis 16:00 [1]."),
            "no sources, no citations"
        );
    }

    #[test]
    fn phone_numbers_keep_their_spaces() {
        let r = rule(&["+49 30 1234567"]);
        assert!(writes(&r, "Ruf an: +49 30 1234567."));
        assert!(!writes(&r, "Ruf an: +49 30 7654321."));
    }
}
