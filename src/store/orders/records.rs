//! Reading and writing orders: creation once per idempotency key, lists by state, and each
//! change of state with its event and notification in one transaction.

use rand::RngCore;
use rusqlite::{params, OptionalExtension, Transaction};

use super::super::{now, require_business, Store, StoreError};
use super::notice::{Notice, NoticeOf};
use super::{
    notice, Fulfilment, NewOrder, Order, OrderAction, OrderChange, OrderCustomer, OrderState,
};

const COLUMNS: &str = "o.id, o.business_id, o.customer_channel, o.wa_id, c.name, \
    o.conversation_id, o.state, o.items, o.fulfilment, o.customer_note, o.business_note, \
    o.language, o.idempotency_key, o.created_at, o.updated_at \
    FROM orders o LEFT JOIN wa_customers c ON c.business_id = o.business_id AND c.wa_id = o.wa_id";

fn new_order_id() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    format!("ord_{}", hex::encode(bytes))
}

fn row_to_order(r: &rusqlite::Row<'_>) -> rusqlite::Result<Order> {
    let bad = |i: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
    };
    let channel: String = r.get(2)?;
    let customer = match (channel.as_str(), r.get::<_, Option<String>>(3)?) {
        ("whatsapp", Some(wa_id)) => OrderCustomer::WhatsApp {
            wa_id,
            name: r.get(4)?,
        },
        ("api", _) => OrderCustomer::Api,
        (other, _) => return Err(bad(2, format!("order customer {other:?}"))),
    };
    let items: String = r.get(7)?;
    let fulfilment = match r.get::<_, Option<String>>(8)? {
        None => None,
        Some(f) => Some(Fulfilment::parse(&f).ok_or_else(|| bad(8, format!("fulfilment {f:?}")))?),
    };
    Ok(Order {
        id: r.get(0)?,
        business_id: r.get(1)?,
        customer,
        conversation_id: r.get(5)?,
        state: r.get(6)?,
        items: serde_json::from_str(&items).map_err(|e| bad(7, e.to_string()))?,
        fulfilment,
        customer_note: r.get(9)?,
        business_note: r.get(10)?,
        language: r.get(11)?,
        idempotency_key: r.get(12)?,
        created_at: r.get::<_, i64>(13)? as u64,
        updated_at: r.get::<_, i64>(14)? as u64,
        history: None,
    })
}

fn read_order(
    conn: &rusqlite::Connection,
    business: &str,
    id: &str,
) -> Result<Option<Order>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} WHERE o.business_id = ?1 AND o.id = ?2"),
            params![business, id],
            row_to_order,
        )
        .optional()?)
}

/// The orders of one customer: a WhatsApp customer by their key, or whoever ordered from
/// `conversation`; each with its history (for the customer's export).
pub(in crate::store) fn customer_orders(
    conn: &rusqlite::Connection,
    business: &str,
    wa_id: Option<&str>,
    conversation: &str,
) -> Result<Vec<Order>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} WHERE o.business_id = ?1 AND (o.wa_id = ?2 OR o.conversation_id = ?3) \
         ORDER BY o.created_at, o.rowid"
    ))?;
    let rows = stmt.query_map(params![business, wa_id, conversation], row_to_order)?;
    let mut orders: Vec<Order> = rows.collect::<Result<_, _>>()?;
    for order in &mut orders {
        order.history = Some(history(conn, &order.id)?);
    }
    Ok(orders)
}

fn history(conn: &rusqlite::Connection, id: &str) -> Result<Vec<OrderChange>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT from_state, to_state, note, at FROM order_events WHERE order_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![id], |r| {
        Ok(OrderChange {
            from: r.get(0)?,
            to: r.get(1)?,
            note: r.get(2)?,
            at: r.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Appends a change to the order's events; returns its sequence number.
fn record_event(
    tx: &Transaction<'_>,
    id: &str,
    from: Option<OrderState>,
    to: OrderState,
    note: Option<&str>,
    at: u64,
) -> Result<i64, StoreError> {
    let seq: i64 = tx.query_row(
        "SELECT COALESCE(MAX(seq), -1) + 1 FROM order_events WHERE order_id = ?1",
        params![id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO order_events (order_id, seq, from_state, to_state, note, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, seq, from, to, note, at as i64],
    )?;
    Ok(seq)
}

impl Store {
    /// Records an order, or returns the one its idempotency key already made (false: nothing
    /// was written). A WhatsApp customer must be one the channel knows.
    pub fn create_order(
        &self,
        business: &str,
        new: &NewOrder,
    ) -> Result<(Order, bool), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT id FROM orders WHERE business_id = ?1 AND idempotency_key = ?2",
                params![business, new.idempotency_key],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            let order = read_order(&tx, business, &id)?.expect("read in the same transaction");
            return Ok((order, false));
        }
        require_business(&tx, business)?;
        let (channel, wa_id) = match &new.customer {
            OrderCustomer::WhatsApp { wa_id, .. } => {
                let known: bool = tx.query_row(
                    "SELECT COUNT(*) > 0 FROM wa_customers WHERE business_id = ?1 AND wa_id = ?2",
                    params![business, wa_id],
                    |r| r.get(0),
                )?;
                if !known {
                    return Err(StoreError::UnknownCustomer);
                }
                ("whatsapp", Some(wa_id.as_str()))
            }
            OrderCustomer::Api => ("api", None),
        };
        let id = new_order_id();
        let at = now();
        let items = serde_json::to_string(&new.items).expect("order items serialize");
        tx.execute(
            "INSERT INTO orders (id, business_id, customer_channel, wa_id, conversation_id, state, \
             items, fulfilment, customer_note, business_note, language, idempotency_key, \
             created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?10, ?11, ?12, ?12)",
            params![
                id,
                business,
                channel,
                wa_id,
                new.conversation_id,
                new.state,
                items,
                new.fulfilment.map(Fulfilment::as_str),
                new.customer_note,
                new.language.as_deref().unwrap_or("en"),
                new.idempotency_key,
                at as i64
            ],
        )?;
        record_event(&tx, &id, None, new.state, None, at)?;
        let order = read_order(&tx, business, &id)?.expect("written in the same transaction");
        tx.commit()?;
        Ok((order, true))
    }

    /// One order with its history, or None when the business has none of that id.
    pub fn order(&self, business: &str, id: &str) -> Result<Option<Order>, StoreError> {
        let conn = self.conn.lock();
        let Some(mut order) = read_order(&conn, business, id)? else {
            return Ok(None);
        };
        order.history = Some(history(&conn, id)?);
        Ok(Some(order))
    }

    /// A business's orders, newest first, all or those in `state`.
    pub fn orders(
        &self,
        business: &str,
        state: Option<OrderState>,
    ) -> Result<Vec<Order>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} WHERE o.business_id = ?1 AND (?2 IS NULL OR o.state = ?2) \
             ORDER BY o.created_at DESC, o.rowid DESC"
        ))?;
        let rows = stmt.query_map(params![business, state], row_to_order)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The orders of one conversation in `state`, newest first (the chat's waiting draft).
    pub fn conversation_orders(
        &self,
        business: &str,
        conversation: &str,
        state: OrderState,
    ) -> Result<Vec<Order>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} WHERE o.business_id = ?1 AND o.conversation_id = ?2 \
             AND o.state = ?3 ORDER BY o.created_at DESC, o.rowid DESC"
        ))?;
        let rows = stmt.query_map(params![business, conversation, state], row_to_order)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves an order by `action`, recording the change (with the business's `note`) and, for
    /// a WhatsApp customer, enqueuing `notice(&changed_order)` (the message's parts; none for
    /// no message) — all in one transaction. A move the state table does not allow changes
    /// nothing. `Confirm` of an order already confirmed returns it unchanged (a repeated
    /// confirmation); of a cancelled one it is illegal.
    pub fn change_order(
        &self,
        business: &str,
        id: &str,
        action: OrderAction,
        note: Option<&str>,
        notice: &dyn Fn(&Order) -> Vec<String>,
    ) -> Result<Order, StoreError> {
        self.change_order_telling(business, id, action, note, &|order| Notice {
            parts: notice(order),
            template: None,
        })
    }

    /// [`Store::change_order`], the notification with the template to send in its place
    /// outside the 24-hour window (see `notice`).
    pub fn change_order_telling(
        &self,
        business: &str,
        id: &str,
        action: OrderAction,
        note: Option<&str>,
        notice: &dyn Fn(&Order) -> Notice,
    ) -> Result<Order, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let Some(mut order) = read_order(&tx, business, id)? else {
            return Err(StoreError::UnknownOrder(id.to_string()));
        };
        let from = order.state;
        let Some(to) = from.after(action) else {
            if action == OrderAction::Confirm && from != OrderState::Cancelled {
                return Ok(order);
            }
            return Err(StoreError::IllegalTransition { from, action });
        };
        let at = now();
        tx.execute(
            "UPDATE orders SET state = ?3, updated_at = ?4, \
             business_note = COALESCE(?5, business_note) WHERE business_id = ?1 AND id = ?2",
            params![business, id, to, at as i64, note],
        )?;
        let seq = record_event(&tx, id, Some(from), to, note, at)?;
        order.state = to;
        order.updated_at = at;
        if let Some(note) = note {
            order.business_note = Some(note.to_string());
        }
        if let OrderCustomer::WhatsApp { wa_id, .. } = &order.customer {
            let message = notice(&order);
            let key = NoticeOf::order_key(id, seq);
            notice::enqueue(&tx, business, wa_id, &key, None, &message)?;
        }
        tx.commit()?;
        Ok(order)
    }

    /// Orders of every business by state (for the metrics).
    pub fn order_counts(&self) -> Result<Vec<(OrderState, u64)>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM orders GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
