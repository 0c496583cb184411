//! An AWS outage on demand: a loopback TCP proxy in front of the emulator that can be cut.
//!
//! Point an SDK at [`Outage::endpoint`] and it talks to moto as usual; [`Outage::cut`] closes
//! every open connection and refuses new ones (the SDK sees connection errors, as when a
//! region or a VPC endpoint stops answering), [`Outage::restore`] lets traffic through again.
//! moto keeps its state throughout, as AWS does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug)]
pub struct Outage {
    pub endpoint: String,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.accept.abort();
        self.close_all();
    }
}

impl Outage {
    /// A proxy to `target` (the emulator's address), passing traffic until cut.
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let down = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (down, open) = (down.clone(), open.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if down.load(Ordering::SeqCst) {
                        drop(client); // refused: the SDK sees the connection close
                        continue;
                    }
                    let conn = tokio::spawn(async move {
                        if let Ok(mut upstream) = TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                    });
                    let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
                    open.retain(|c| !c.is_finished());
                    open.push(conn);
                }
            }
        });
        Ok(Self {
            endpoint,
            down,
            open,
            accept,
        })
    }

    /// AWS stops answering: open connections drop, new ones are refused.
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.close_all();
    }

    /// AWS answers again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    fn close_all(&self) {
        for conn in self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            conn.abort();
        }
    }
}
