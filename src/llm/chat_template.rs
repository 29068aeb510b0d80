//! Turning a conversation into the prompt text a model was trained on. Owns rendering the
//! model's `tokenizer.chat_template` (a Jinja template) with minijinja the way Hugging Face
//! transformers renders it with jinja2: `trim_blocks` and `lstrip_blocks` on, `messages`,
//! `add_generation_prompt`, `bos_token`/`eos_token`, `tools`/`documents` as none,
//! `raise_exception`, Python string and dict methods (minijinja-contrib pycompat), a `tojson`
//! that behaves as `json.dumps`, and `strftime_now`. Models without a template get ChatML.

mod python;

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value as GgufValue;
use minijinja::{context, Environment, Error, ErrorKind, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};

use super::{GgufTokenizer, LlmError};

/// The ChatML template (transformers' old default), used when a model carries none.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const TEMPLATE_NAME: &str = "chat_template";

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// "system", "user" or "assistant" (templates may know others).
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// A compiled chat template with the special-token strings it is rendered with.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    bos_token: String,
    eos_token: String,
    is_fallback: bool,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .field("is_fallback", &self.is_fallback)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source`; a syntax error is reported with its line.
    pub fn new(
        source: impl Into<String>,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Result<Self, LlmError> {
        let source = source.into();
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", |format: String| {
            python::strftime_now(&format)
        });
        env.add_filter("tojson", python::tojson);
        env.add_template_owned(TEMPLATE_NAME, without_generation_tags(&source))
            .map_err(|e| LlmError::ChatTemplate(describe(&e)))?;
        Ok(Self {
            env,
            source,
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
            is_fallback: false,
        })
    }

    /// ChatML, for models without a template of their own.
    pub fn chatml(bos_token: impl Into<String>, eos_token: impl Into<String>) -> Self {
        let mut template = Self::new(CHATML_TEMPLATE, bos_token, eos_token)
            .unwrap_or_else(|e| unreachable!("the built-in ChatML template compiles: {e}"));
        template.is_fallback = true;
        template
    }

    /// The template in a GGUF's `tokenizer.chat_template`, with the tokenizer's bos/eos texts;
    /// ChatML when there is none.
    pub fn from_gguf_metadata(
        metadata: &HashMap<String, GgufValue>,
        tokenizer: &GgufTokenizer,
    ) -> Result<Self, LlmError> {
        let text_of = |id: Option<u32>| {
            id.and_then(|id| tokenizer.token_text(id))
                .unwrap_or_default()
        };
        let bos = text_of(tokenizer.special().bos);
        let eos = text_of(tokenizer.special().eos);
        match metadata.get("tokenizer.chat_template") {
            Some(GgufValue::String(source)) => Self::new(source.clone(), bos, eos),
            Some(_) => Err(LlmError::ChatTemplate(
                "tokenizer.chat_template is not a string".to_string(),
            )),
            None => {
                tracing::info!("the model has no chat template; using ChatML");
                Ok(Self::chatml(bos, eos))
            }
        }
    }

    /// The prompt text for `messages`; with `add_generation_prompt`, it ends where the
    /// assistant's reply begins.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, LlmError> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| LlmError::ChatTemplate(describe(&e)))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
                tools => Value::from(()),
                documents => Value::from(()),
            })
            .map_err(|e| LlmError::ChatTemplate(describe(&e)))
    }

    /// The template text as the model carries it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether this is the ChatML stand-in rather than the model's own template.
    pub fn is_fallback(&self) -> bool {
        self.is_fallback
    }
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

fn describe(e: &Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        msg.push_str(": ");
        msg.push_str(&inner.to_string());
        source = inner.source();
    }
    msg
}

/// transformers' `{% generation %}` … `{% endgeneration %}` only marks the assistant's tokens
/// for training masks; jinja2 renders what is between them unchanged, so the tags are dropped.
fn without_generation_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        let Some(len) = rest[start..].find("%}") else {
            break;
        };
        let tag = &rest[start..start + len + 2];
        let inner =
            tag[2..tag.len() - 2].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        out.push_str(&rest[..start]);
        if inner != "generation" && inner != "endgeneration" {
            out.push_str(tag);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_renders_turns_and_the_generation_prompt() {
        let t = ChatTemplate::chatml("<s>", "</s>");
        let out = t.render(&[ChatMessage::user("Hi")], true).unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert!(t.is_fallback());
    }

    #[test]
    fn hugging_face_semantics() {
        // trim_blocks + lstrip_blocks, python methods, tojson as json.dumps, specials.
        let source = "{{ bos_token }}\n{% for m in messages %}\n    {% if m.role == 'system' %}\n[{{ m.content.strip().upper() }}]\n    {% else %}\n{{ m.content | tojson }}{{ {'a': [1, 2.5], 'b': '<é>'} | tojson(indent=2) }}\n    {% endif %}\n{% endfor %}\n{% if tools is none %}{{ eos_token }}{% endif %}";
        let t = ChatTemplate::new(source, "<s>", "</s>").unwrap();
        let out = t
            .render(
                &[
                    ChatMessage::system("  be brief "),
                    ChatMessage::user("say \"hi\""),
                ],
                false,
            )
            .unwrap();
        assert_eq!(
            out,
            "<s>\n[BE BRIEF]\n\"say \\\"hi\\\"\"{\n  \"a\": [\n    1,\n    2.5\n  ],\n  \"b\": \"<é>\"\n}\n</s>"
        );
    }

    #[test]
    fn raise_exception_becomes_an_error_with_its_message() {
        let t = ChatTemplate::new(
            "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations must start with a user turn') }}{% endif %}",
            "",
            "",
        )
        .unwrap();
        let err = t.render(&[ChatMessage::assistant("x")], false).unwrap_err();
        assert!(
            err.to_string().contains("must start with a user turn"),
            "{err}"
        );
        assert!(ChatTemplate::new("{% for %}", "", "").is_err());
    }

    #[test]
    fn generation_tags_are_dropped() {
        let t = ChatTemplate::new(
            "{% for m in messages %}{% generation %}{{ m.content }}{%- endgeneration %}{% endfor %}",
            "",
            "",
        )
        .unwrap();
        assert_eq!(t.render(&[ChatMessage::user("x")], false).unwrap(), "x");
    }

    #[test]
    fn tojson_defaults_follow_python() {
        let t = ChatTemplate::new(
            "{{ {'k': [1, true, none]} | tojson }}|{{ 'ü' | tojson(ensure_ascii=true) }}|{{ {'b': 1, 'a': 2} | tojson(separators=[',', ':'], sort_keys=true) }}",
            "",
            "",
        )
        .unwrap();
        assert_eq!(
            t.render(&[], false).unwrap(),
            "{\"k\": [1, true, null]}|\"\\u00fc\"|{\"a\":2,\"b\":1}"
        );
    }
}
