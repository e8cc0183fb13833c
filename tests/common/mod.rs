pub mod hostile;
pub mod pty;
