//! Source checkpoints: how far into an upstream log (Kafka topic partitions)
//! the journal has consumed, and the journal record that carries it.
//!
//! A replica fed from Kafka journals each consumed batch behind a *batch
//! header*: one control record naming how many event records follow and the
//! next offset to consume on every partition once they are applied. Header and
//! events reach the disk in the same fsync, so the checkpoint can never run
//! ahead of, or lag behind, the events it covers; recovery drops a batch whose
//! events did not all arrive (a crash mid-write), and consumption resumes at
//! the checkpoint of the last whole batch. This is Quickwit's rule (source
//! positions are stored with the data they produced, never auto-committed to
//! the broker) with the journal as the storage.
//!
//! Control records start with a zero byte. A protobuf message never does
//! (field number 0 is invalid), so they cannot be mistaken for envelopes,
//! and journals written before checkpoints existed read unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// First byte of every control record.
const CONTROL_MARKER: u8 = 0x00;
/// Second byte: which control record.
const BATCH_HEADER_V1: u8 = 0x01;

/// The next offset to consume on each `(topic, partition)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCheckpoint {
    next_offsets: BTreeMap<(String, i32), i64>,
}

impl SourceCheckpoint {
    /// The offset to resume `topic`/`partition` from, if it was ever consumed.
    pub fn next_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        // BTreeMap lookups need the owned key type; the map is tiny.
        self.next_offsets
            .get(&(topic.to_owned(), partition))
            .copied()
    }

    /// Records that everything before `next_offset` has been consumed.
    /// Offsets only move forward: a redelivered older message cannot rewind
    /// the checkpoint.
    pub fn advance(&mut self, topic: &str, partition: i32, next_offset: i64) {
        let entry = self
            .next_offsets
            .entry((topic.to_owned(), partition))
            .or_insert(next_offset);
        *entry = (*entry).max(next_offset);
    }

    pub fn is_empty(&self) -> bool {
        self.next_offsets.is_empty()
    }

    /// `(topic, partition, next_offset)` in topic, partition order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.next_offsets
            .iter()
            .map(|((topic, partition), offset)| (topic.as_str(), *partition, *offset))
    }
}

/// The control record in front of a source batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchHeader {
    /// Event records that follow the header and belong to the batch.
    pub events: u32,
    /// The checkpoint once the whole batch is applied.
    pub checkpoint: SourceCheckpoint,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlRecordError {
    #[error("unknown control record kind {0:#04x}")]
    UnknownKind(u8),
    #[error("control record does not decode: {0}")]
    Malformed(#[from] postcard::Error),
}

/// Whether a journal payload is a control record rather than an envelope.
pub fn is_control(payload: &[u8]) -> bool {
    payload.first() == Some(&CONTROL_MARKER)
}

impl BatchHeader {
    pub fn encode(&self) -> Result<Vec<u8>, ControlRecordError> {
        let mut out = vec![CONTROL_MARKER, BATCH_HEADER_V1];
        postcard::to_io(self, &mut out)?;
        Ok(out)
    }

    /// Decodes a payload for which [`is_control`] holds.
    pub fn decode(payload: &[u8]) -> Result<BatchHeader, ControlRecordError> {
        match payload.get(1) {
            Some(&BATCH_HEADER_V1) => Ok(postcard::from_bytes(&payload[2..])?),
            Some(&other) => Err(ControlRecordError::UnknownKind(other)),
            None => Err(ControlRecordError::UnknownKind(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use incontra_proto::events::v1::Envelope;
    use prost::Message;

    #[test]
    fn header_round_trips_and_is_told_apart_from_envelopes() {
        let mut checkpoint = SourceCheckpoint::default();
        checkpoint.advance("incontra.co.v1", 2, 41);
        checkpoint.advance("incontra.vacancies.v1", 0, 7);
        let header = BatchHeader {
            events: 3,
            checkpoint: checkpoint.clone(),
        };
        let bytes = header.encode().unwrap();
        assert!(is_control(&bytes));
        assert_eq!(BatchHeader::decode(&bytes).unwrap(), header);
        assert!(Envelope::decode(bytes.as_slice()).is_err());

        let envelope = Envelope {
            event_id: "e1".into(),
            ..Envelope::default()
        };
        assert!(!is_control(&envelope.encode_to_vec()));
        // Even an all-default envelope encodes to nothing rather than to a
        // zero byte.
        assert!(!is_control(&Envelope::default().encode_to_vec()));
    }

    #[test]
    fn offsets_only_move_forward() {
        let mut c = SourceCheckpoint::default();
        c.advance("t", 0, 10);
        c.advance("t", 0, 4);
        assert_eq!(c.next_offset("t", 0), Some(10));
        c.advance("t", 0, 11);
        assert_eq!(c.next_offset("t", 0), Some(11));
        assert_eq!(c.next_offset("t", 1), None);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            vec![("t", 0, 11)],
            "iteration order is stable"
        );
    }

    #[test]
    fn unknown_control_kinds_are_refused() {
        assert!(matches!(
            BatchHeader::decode(&[0, 9, 1, 2]),
            Err(ControlRecordError::UnknownKind(9))
        ));
    }
}
