//! Benchmarks of incontra at national scale against a PostgreSQL baseline
//! measured in the same run: the PostgreSQL harness (`pg`) and the SQL twin
//! of the preselection list (`baseline`), the `incontra` child process
//! (`node`), open- and closed-loop load over gRPC (`measure`), the phases
//! of a run (`pipeline`) and its markdown report (`report`).

pub mod baseline;
pub mod measure;
pub mod node;
pub mod pg;
pub mod pipeline;
pub mod report;
