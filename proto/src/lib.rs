//! Protobuf messages and gRPC stubs generated from `proto/incontra/**`.
//!
//! This crate is the wire edge: nothing here knows the engine's types; the
//! conversions live in `incontra-services`.

/// `incontra.events.v1`: the envelope and payloads of every event stream.
pub mod events {
    pub mod v1 {
        tonic::include_proto!("incontra.events.v1");
    }
}

/// `incontra.match.v1`: the `MatchService` API.
pub mod matching {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/incontra.r#match.v1.rs"));
    }
}

/// Encoded `FileDescriptorSet` of both packages, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("incontra_descriptor");
