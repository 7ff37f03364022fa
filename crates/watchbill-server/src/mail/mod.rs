//! Mail intake: the SMTP listener (`smtp.rs`), IMAP polling (`imap.rs`), reading a message
//! (`message.rs`), and what a message does to tickets and incidents (`deliver.rs`).

pub mod deliver;
pub mod imap;
pub mod message;
pub mod smtp;
