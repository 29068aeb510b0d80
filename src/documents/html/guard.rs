//! A tree sink that watches how deep the page html5ever builds becomes.
//!
//! html5ever's tree builder walks its stack of open elements for many tokens (every `<p>`
//! looks for an open `p` "in button scope", for instance), so its work is the number of tokens
//! times the depth of the tree being built. Depth is what an attacker grows: unclosed
//! containers, end tags that match nothing, or formatting elements that the parser reopens at
//! every text. Guessing the depth from the markup is a second HTML parser, and wrong (an
//! earlier guard counted any end tag as closing a level); counting it where the tree is built
//! is exact. [`DepthGuard`] delegates every call to scraper's sink and records each element's
//! depth as it is inserted, the deepest so far and the sum over all elements (what the
//! builder's scope walks cost, roughly); the parse loop reads both between chunks and stops a
//! page that passes either limit.
//!
//! Depths are set when a node is inserted; `reparent_children` (used by the adoption agency
//! for misnested formatting) moves a node's children without renumbering them, so a depth can
//! be off by the few levels that algorithm moves, never by the thousands an attack needs.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use html5ever::tendril::StrTendril;
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{Attribute, QualName};
use scraper::{Html, HtmlTreeSink};

type Handle = <HtmlTreeSink as TreeSink>::Handle;

/// What the guard has seen so far, read by the parse loop.
#[derive(Debug, Default)]
pub(super) struct Depths {
    /// The deepest element inserted.
    pub deepest: Cell<u32>,
    /// The depths of all elements inserted, added up.
    pub total: Cell<u64>,
}

pub(super) struct DepthGuard {
    inner: HtmlTreeSink,
    depths: RefCell<HashMap<Handle, u32>>,
    seen: Rc<Depths>,
}

impl DepthGuard {
    /// A guard around a fresh document; `seen` is updated as elements are inserted.
    pub(super) fn new(seen: Rc<Depths>) -> DepthGuard {
        DepthGuard {
            inner: HtmlTreeSink::new(Html::new_document()),
            depths: RefCell::new(HashMap::new()),
            seen,
        }
    }

    fn depth(&self, node: &Handle) -> u32 {
        self.depths.borrow().get(node).copied().unwrap_or(0)
    }

    fn place(&self, child: &NodeOrText<Handle>, depth: u32) {
        if let NodeOrText::AppendNode(node) = child {
            self.depths.borrow_mut().insert(*node, depth);
            let seen = &self.seen;
            seen.deepest.set(seen.deepest.get().max(depth));
            seen.total.set(seen.total.get() + u64::from(depth));
        }
    }
}

impl TreeSink for DepthGuard {
    type Output = Html;
    type Handle = Handle;
    type ElemName<'a> = <HtmlTreeSink as TreeSink>::ElemName<'a>;

    fn finish(self) -> Html {
        self.inner.finish()
    }

    fn parse_error(&self, msg: Cow<'static, str>) {
        self.inner.parse_error(msg)
    }

    fn get_document(&self) -> Handle {
        self.inner.get_document()
    }

    fn elem_name<'a>(&'a self, target: &'a Handle) -> Self::ElemName<'a> {
        self.inner.elem_name(target)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> Handle {
        self.inner.create_element(name, attrs, flags)
    }

    fn create_comment(&self, text: StrTendril) -> Handle {
        self.inner.create_comment(text)
    }

    fn create_pi(&self, target: StrTendril, data: StrTendril) -> Handle {
        self.inner.create_pi(target, data)
    }

    fn append(&self, parent: &Handle, child: NodeOrText<Handle>) {
        self.place(&child, self.depth(parent) + 1);
        self.inner.append(parent, child)
    }

    fn append_based_on_parent_node(
        &self,
        element: &Handle,
        prev_element: &Handle,
        child: NodeOrText<Handle>,
    ) {
        // Either beside `element` or inside `prev_element`: count the deeper of the two.
        let depth = self.depth(element).max(self.depth(prev_element) + 1);
        self.place(&child, depth);
        self.inner
            .append_based_on_parent_node(element, prev_element, child)
    }

    fn append_doctype_to_document(
        &self,
        name: StrTendril,
        public_id: StrTendril,
        system_id: StrTendril,
    ) {
        self.inner
            .append_doctype_to_document(name, public_id, system_id)
    }

    fn mark_script_already_started(&self, node: &Handle) {
        self.inner.mark_script_already_started(node)
    }

    fn pop(&self, node: &Handle) {
        self.inner.pop(node)
    }

    fn get_template_contents(&self, target: &Handle) -> Handle {
        self.inner.get_template_contents(target)
    }

    fn same_node(&self, x: &Handle, y: &Handle) -> bool {
        self.inner.same_node(x, y)
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.inner.set_quirks_mode(mode)
    }

    fn append_before_sibling(&self, sibling: &Handle, new_node: NodeOrText<Handle>) {
        self.place(&new_node, self.depth(sibling));
        self.inner.append_before_sibling(sibling, new_node)
    }

    fn add_attrs_if_missing(&self, target: &Handle, attrs: Vec<Attribute>) {
        self.inner.add_attrs_if_missing(target, attrs)
    }

    fn associate_with_form(
        &self,
        target: &Handle,
        form: &Handle,
        nodes: (&Handle, Option<&Handle>),
    ) {
        self.inner.associate_with_form(target, form, nodes)
    }

    fn remove_from_parent(&self, target: &Handle) {
        self.inner.remove_from_parent(target)
    }

    fn reparent_children(&self, node: &Handle, new_parent: &Handle) {
        self.inner.reparent_children(node, new_parent)
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &Handle) -> bool {
        self.inner
            .is_mathml_annotation_xml_integration_point(handle)
    }

    fn set_current_line(&self, line_number: u64) {
        self.inner.set_current_line(line_number)
    }

    fn allow_declarative_shadow_roots(&self, intended_parent: &Handle) -> bool {
        self.inner.allow_declarative_shadow_roots(intended_parent)
    }

    fn attach_declarative_shadow(
        &self,
        location: &Handle,
        template: &Handle,
        attrs: &[Attribute],
    ) -> bool {
        self.inner
            .attach_declarative_shadow(location, template, attrs)
    }

    fn maybe_clone_an_option_into_selectedcontent(&self, option: &Handle) {
        self.inner
            .maybe_clone_an_option_into_selectedcontent(option)
    }
}
