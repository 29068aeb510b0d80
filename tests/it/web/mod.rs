//! The business's web page (`/app`) in a real browser — Debian's headless Chromium driven
//! through chromedriver by fantoccini — over the real index and a fake Cloud API, without a
//! model (`flow`); and the session's guards, read off the HTTP responses (`guards`).
//!
//! Where no Chromium and chromedriver are installed the browser test says so and passes;
//! `.ci/run` installs them and sets `CLERK_REQUIRE_BROWSER=1`, under which their absence
//! fails the test instead.

mod flow;
mod guards;

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk::app::App;
use clerk::channels::whatsapp::fake::FakeCloud;
use clerk::engine::Engine;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::whatsapp::{connect_to_fake, start_with_fake};

pub const SHOP: &str = "kiosk-am-markt";
pub const NUMBER: &str = "4915100000001";

/// A shop with no documents yet, its WhatsApp number connected to a fake Cloud API.
pub struct Rig {
    pub base: String,
    pub engine: Arc<Engine>,
    pub fake: FakeCloud,
    /// The shop's API key, as its owner would paste it into the sign-in form.
    pub key: String,
    _app: App,
    _dir: tempfile::TempDir,
}

impl Rig {
    pub async fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let (app, fake) = start_with_fake(dir.path(), |service| service).await;
        let engine = app.engine().clone();
        let setup = engine.clone();
        let key = tokio::task::spawn_blocking(move || {
            setup
                .create_business(SHOP, Some("Kiosk am Markt"), Some("de"))
                .unwrap()
                .1
        })
        .await
        .unwrap();
        connect_to_fake(&app, &fake, SHOP, NUMBER).await;
        Rig {
            base: app.base_url(),
            engine,
            fake,
            key,
            _app: app,
            _dir: dir,
        }
    }
}

/// The installed browser, or why there is none.
fn browser_binaries() -> Result<(PathBuf, PathBuf), String> {
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        })
    };
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"])
        .ok_or("no chromium on PATH (Debian: apt-get install chromium chromium-driver)")?;
    let driver = find(&["chromedriver"])
        .ok_or("no chromedriver on PATH (Debian: apt-get install chromium-driver)")?;
    Ok((chromium, driver))
}

/// A headless Chromium under chromedriver, ended with the test.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// The browser, or None (after saying why) where none is installed and none is required.
    pub async fn start() -> Option<Browser> {
        let (chromium, driver) = match browser_binaries() {
            Ok(found) => found,
            Err(why) => {
                assert!(
                    std::env::var_os("CLERK_REQUIRE_BROWSER").is_none(),
                    "CLERK_REQUIRE_BROWSER is set but {why}"
                );
                eprintln!("skipping the browser test: {why}");
                return None;
            }
        };
        let port = free_port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1100,900", "--lang=de-DE"],
                "prefs": {"intl.accept_languages": "de-DE,de"}
            }
        });
        let caps = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await;
            match attempt {
                Ok(client) => break client,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no browser session through chromedriver: {e}"),
            }
        };
        Some(Browser { client, driver })
    }

    /// Ends the browser session (Chromium with it), then chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// The element `css` once it is there (at most `patience`); a page that is loading
    /// meanwhile (a reload after an action) is waited out, not an error.
    pub async fn wait_for(&self, css: &str, patience: Duration) -> fantoccini::elements::Element {
        let started = Instant::now();
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(e) if started.elapsed() >= patience => panic!("{css} never appeared: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Clicks the element `css` (it must be there).
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} to click: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Types `text` into the field `css`, once it is there.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css, Duration::from_secs(20))
            .await
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Waits until `css`'s text holds `text`.
    pub async fn wait_for_text(&self, css: &str, text: &str, patience: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if let Ok(now) = element.text().await {
                    if now.contains(text) {
                        return now;
                    }
                    assert!(
                        started.elapsed() < patience,
                        "{css} reads {now:?}, never {text:?}"
                    );
                }
            }
            assert!(started.elapsed() < patience, "{css} never appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page as a PNG, into `docs/screenshots/` when `CLERK_SCREENSHOTS` is set (how the
    /// README's pictures are made), else only checked to be one.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        if std::env::var_os("CLERK_SCREENSHOTS").is_some() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
    }
}
