//! AWS adapters for Deckhand's ports.
//!
//! Not built yet: this crate is the home of `DynamoStore`, `EcsPlatform`, `RdsBackups` and the
//! rest once the AWS adapter issue lands. It depends on `deckhand-core` and nothing depends on it
//! but `bot` and `functions/*`.
