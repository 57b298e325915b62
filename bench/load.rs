//! Haven's load generator (bench/README.md). It signs in through the sign-in form like a
//! browser, then measures in one run, one after another: the reference page (bench/reference.rs),
//! the case page, My cases, a manager's team list (first page and deep in its pages), name
//! search for a common and a rare surname, the stylesheet, note writers (8 and 64 at once) and
//! whole referrals. For each: requests a second, p50, p95 and p99, the ratio to the reference page,
//! SQL statements a request (from `pg_stat_statements`, when the server has it loaded) and the
//! server's peak resident memory. Prints a Markdown table.
//!
//! Settings (environment): BENCH_HAVEN (http://127.0.0.1:8080), BENCH_REFERENCE
//! (http://127.0.0.1:8181), BENCH_DATABASE_URL (the owner's URL of the scale database, to pick
//! cases and read statistics), BENCH_PRACTITIONER, BENCH_MANAGER, BENCH_PASSWORD, BENCH_HAVEN_PID
//! (for memory), BENCH_SECONDS (10 a scenario), BENCH_CONCURRENCY (32), BENCH_ONLY (a
//! comma-separated list of scenario names). Only loopback addresses are accepted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rand::Rng;
use sqlx::PgPool;
use uuid::Uuid;

type Body = Full<Bytes>;

/// Makes the requests of one operation.
type Operation = Arc<dyn Fn(&mut rand::rngs::ThreadRng) -> Vec<Req> + Send + Sync>;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// host:port of a loopback http URL; anything else is refused.
fn loopback(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("{url}: only plain http on loopback is measured"))?;
    let host = rest.trim_end_matches('/');
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if !matches!(name, "127.0.0.1" | "localhost" | "[::1]") {
        anyhow::bail!("{url}: the benchmark only ever loads loopback addresses");
    }
    Ok(host.to_owned())
}

struct Reply {
    status: u16,
    location: String,
    cookies: Vec<(String, String)>,
    body: String,
}

/// One kept-alive HTTP/1.1 connection.
struct Conn {
    host: String,
    sender: SendRequest<Body>,
}

impl Conn {
    async fn open(host: &str) -> anyhow::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            host: host.to_owned(),
            sender,
        })
    }

    async fn send(&mut self, req: &Req, session: Option<&Session>) -> anyhow::Result<Reply> {
        let mut b = Request::builder()
            .method(req.method.clone())
            .uri(&req.path)
            .header("host", &self.host)
            .header("accept-encoding", "br, gzip");
        let mut body = Vec::new();
        if let Some(s) = session {
            b = b.header("cookie", s.cookie_header());
        }
        if req.method == Method::POST {
            let origin = format!("http://{}", self.host);
            b = b
                .header("origin", origin)
                .header("content-type", "application/x-www-form-urlencoded");
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &req.form {
                form.append_pair(k, v);
            }
            if let Some(s) = session {
                form.append_pair("_csrf", &s.csrf);
            }
            body = form.finish().into_bytes();
        }
        if self.sender.ready().await.is_err() {
            *self = Conn::open(&self.host).await?;
        }
        let res = self
            .sender
            .send_request(b.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let cookies = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next()?.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let body = res.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            location,
            cookies,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

#[derive(Clone)]
struct Req {
    method: Method,
    path: String,
    form: Vec<(String, String)>,
}

fn get(path: impl Into<String>) -> Req {
    Req {
        method: Method::GET,
        path: path.into(),
        form: Vec::new(),
    }
}

fn post(path: impl Into<String>, form: &[(&str, &str)]) -> Req {
    Req {
        method: Method::POST,
        path: path.into(),
        form: form
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// A signed-in browser: its cookies and the form token of its session.
#[derive(Clone, Default)]
struct Session {
    cookies: BTreeMap<String, String>,
    csrf: String,
}

impl Session {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn absorb(&mut self, r: &Reply) {
        for (k, v) in &r.cookies {
            self.cookies.insert(k.clone(), v.clone());
        }
        if let Some(token) = field_value(&r.body, "_csrf") {
            self.csrf = token;
        }
    }
}

/// The value of the first hidden input called `name` in a page.
fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

async fn sign_in(host: &str, email: &str, password: &str) -> anyhow::Result<Session> {
    let mut c = Conn::open(host).await?;
    let mut s = Session::default();
    let page = c.send(&get("/sign-in"), Some(&s)).await?;
    s.absorb(&page);
    let r = c
        .send(
            &post("/sign-in", &[("email", email), ("password", password)]),
            Some(&s),
        )
        .await?;
    if r.status != 303 {
        anyhow::bail!("{email} could not sign in (status {})", r.status);
    }
    s.absorb(&r);
    // A page of the signed-in session carries the session's own form token.
    let page = c.send(&get("/cases"), Some(&s)).await?;
    if page.status != 200 {
        anyhow::bail!(
            "{email} signed in but cannot open My cases (status {})",
            page.status
        );
    }
    s.absorb(&page);
    Ok(s)
}

/// What one scenario measures.
struct Scenario {
    name: &'static str,
    host: String,
    concurrency: usize,
    session: Option<Session>,
    /// Each operation: one or more requests; the last one's status must be `expect`.
    operation: Operation,
    expect: u16,
}

struct Outcome {
    name: &'static str,
    concurrency: usize,
    per_second: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    statements: Option<f64>,
    errors: usize,
    rss_mb: Option<f64>,
    requests_per_operation: usize,
}

async fn run(
    s: &Scenario,
    warmup: Duration,
    measure: Duration,
    db: &PgPool,
    pid: Option<u32>,
) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let measuring_from = start + warmup;
    let until = measuring_from + measure;
    let mut workers = Vec::new();
    for _ in 0..s.concurrency {
        let (host, session, op, expect) = (
            s.host.clone(),
            s.session.clone(),
            s.operation.clone(),
            s.expect,
        );
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::open(&host).await?;
            let mut latencies = Vec::new();
            let (mut errors, mut requests) = (0usize, 0usize);
            loop {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                let reqs = op(&mut rand::thread_rng());
                let t = Instant::now();
                let mut last = 0;
                for r in &reqs {
                    match conn.send(r, session.as_ref()).await {
                        Ok(reply) => last = reply.status,
                        Err(_) => {
                            last = 0;
                            conn = Conn::open(&host).await?;
                            break;
                        }
                    }
                }
                if t >= measuring_from {
                    latencies.push(t.elapsed().as_micros() as u64);
                    requests += reqs.len();
                    if last != expect {
                        errors += 1;
                    }
                }
            }
            anyhow::Ok((latencies, errors, requests))
        }));
    }
    // Statement counts cover the measured part only.
    tokio::time::sleep_until(measuring_from.into()).await;
    let has_statements = sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(db)
        .await
        .is_ok();
    let mut all = Vec::new();
    let (mut errors, mut requests) = (0, 0);
    for w in workers {
        let (l, e, r) = w.await??;
        all.extend(l);
        errors += e;
        requests += r;
    }
    let statements = if has_statements {
        let calls: Option<i64> = sqlx::query_scalar(
            "SELECT sum(s.calls)::bigint FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
             WHERE r.rolname = 'haven_app' AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(db)
        .await?;
        calls.map(|c| c as f64 / requests.max(1) as f64)
    } else {
        None
    };
    all.sort_unstable();
    let pct = |p: f64| percentile(&all, p);
    let reqs_per_op = if all.is_empty() {
        1
    } else {
        requests / all.len()
    };
    Ok(Outcome {
        name: s.name,
        concurrency: s.concurrency,
        per_second: all.len() as f64 / measure.as_secs_f64(),
        p50: pct(0.50),
        p95: pct(0.95),
        p99: pct(0.99),
        statements,
        errors,
        rss_mb: pid.and_then(rss_mb),
        requests_per_operation: reqs_per_op,
    })
}

/// The `p` percentile (0 to 1) of sorted latencies in microseconds, in milliseconds.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |us| *us as f64 / 1000.0)
}

/// The process's peak resident memory so far (the kernel's high-water mark), in MB: read after
/// each scenario, it is the most the server has held up to then, not one moment's reading.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn yesterday() -> (String, String, String) {
    let d = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    (
        d.format("%-d").to_string(),
        d.format("%-m").to_string(),
        d.format("%Y").to_string(),
    )
}

/// Every step of a referral, from starting it to sending it, as POSTs (13 requests). The draft
/// is made by the first request, so its address is learnt on the way: see `referral`.
fn referral_steps(base: &str, child: &str) -> Vec<Req> {
    let (d, m, y) = yesterday();
    vec![
        post(
            format!("{base}/referrer"),
            &[
                ("name", "Priya Nandakumar"),
                ("role", "Designated safeguarding lead"),
                ("agency", "Fernhill Academy"),
                ("contact", "01632 960 123"),
            ],
        ),
        post(
            format!("{base}/received"),
            &[
                ("received-day", &d),
                ("received-month", &m),
                ("received-year", &y),
                ("time", "9:15am"),
            ],
        ),
        post(
            format!("{base}/children"),
            &[
                ("name", child),
                ("sex", "female"),
                ("dob-day", "4"),
                ("dob-month", "11"),
                ("dob-year", "2013"),
                ("age", ""),
                ("school", "Fernhill Academy"),
                ("household", "Mother"),
                ("action", "add"),
            ],
        ),
        post(
            format!("{base}/children"),
            &[
                ("name", ""),
                ("dob-day", ""),
                ("dob-month", ""),
                ("dob-year", ""),
                ("age", ""),
                ("school", ""),
                ("household", ""),
                ("action", "continue"),
            ],
        ),
        post(
            format!("{base}/adults"),
            &[("name", ""), ("household", ""), ("action", "continue")],
        ),
        post(format!("{base}/concerns"), &[("concerns", "grooming")]),
        post(
            format!("{base}/account"),
            &[(
                "account",
                "Messages from an adult met in an online game asking for photographs.",
            )],
        ),
        post(format!("{base}/risk"), &[("risk", "no"), ("details", "")]),
        post(format!("{base}/work"), &[("works", "no"), ("details", "")]),
        post(format!("{base}/check"), &[]),
    ]
}

/// Run a whole referral on its own connection; the last status (303 to the new case) or 0.
async fn referral(host: &str, session: &Session) -> anyhow::Result<u16> {
    let mut c = Conn::open(host).await?;
    let r = c.send(&post("/referrals", &[]), Some(session)).await?;
    if r.status != 303 {
        return Ok(r.status);
    }
    let base = r.location.trim_end_matches("/referrer").to_owned();
    // A different made-up child each time, so the cases the benchmark adds do not crowd one
    // name in later searches.
    const FIRST: [&str; 8] = [
        "Maisie", "Tobias", "Leila", "Ronan", "Esme", "Kit", "Nia", "Arlo",
    ];
    const LAST: [&str; 8] = [
        "Quenby",
        "Harrowgate",
        "Pelling",
        "Orme",
        "Tansley",
        "Vokes",
        "Yelland",
        "Brackwell",
    ];
    let child = {
        let mut rng = rand::thread_rng();
        format!(
            "{} {}",
            FIRST[rng.gen_range(0..8)],
            LAST[rng.gen_range(0..8)]
        )
    };
    let mut last = 0;
    for step in referral_steps(&base, &child) {
        last = c.send(&step, Some(session)).await?.status;
        if last != 303 {
            return Ok(last);
        }
    }
    Ok(last)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let haven = loopback(&env("BENCH_HAVEN", "http://127.0.0.1:8080"))?;
    let reference = loopback(&env("BENCH_REFERENCE", "http://127.0.0.1:8181"))?;
    let db_url = env(
        "BENCH_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/haven_scale",
    );
    let db_host = db_url.split('@').nth(1).unwrap_or_default();
    if !(db_host.starts_with("127.0.0.1") || db_host.starts_with("localhost")) {
        anyhow::bail!("BENCH_DATABASE_URL must be on loopback");
    }
    let practitioner = env("BENCH_PRACTITIONER", "bench-practitioner@example.org");
    let manager = env("BENCH_MANAGER", "bench-manager@example.org");
    let password = env("BENCH_PASSWORD", "bench horse battery staple");
    let seconds: u64 = env("BENCH_SECONDS", "10").parse()?;
    let concurrency: usize = env("BENCH_CONCURRENCY", "32").parse()?;
    let pid: Option<u32> = std::env::var("BENCH_HAVEN_PID")
        .ok()
        .and_then(|p| p.parse().ok());
    let only: Vec<String> = env("BENCH_ONLY", "")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let db = PgPool::connect(&db_url).await?;
    if sqlx::query_scalar::<_, i64>("SELECT count(*) FROM cases WHERE reference NOT LIKE 'SCL-%' AND reference NOT LIKE 'HVN-%'")
        .fetch_one(&db)
        .await?
        > 0
    {
        anyhow::bail!("this database holds cases the benchmark did not make");
    }

    // What to ask for: cases the practitioner's team can see, a rare surname there.
    let cases: Vec<Uuid> = sqlx::query_scalar(
        "SELECT c.id FROM cases c JOIN team_memberships m ON m.team_id = c.team_id JOIN users u ON u.id = m.user_id
         WHERE u.email = $1 AND NOT c.restricted AND c.reference LIKE 'SCL-%' ORDER BY md5(c.id::text) LIMIT 15000",
    )
    .bind(&practitioner)
    .fetch_all(&db)
    .await?;
    if cases.is_empty() {
        anyhow::bail!(
            "{practitioner} has no cases to open: run bench/run.sh, which makes the bench accounts"
        );
    }
    let rare: String = sqlx::query_scalar(
        "SELECT split_part(p.full_name, ' ', 2) FROM case_people p JOIN team_memberships m ON m.team_id = p.team_id
         JOIN users u ON u.id = m.user_id WHERE u.email = $1 AND p.full_name LIKE '% Qu%' LIMIT 1",
    )
    .bind(&practitioner)
    .fetch_one(&db)
    .await?;

    let pat = sign_in(&haven, &practitioner, &password).await?;
    let mgr = sign_in(&haven, &manager, &password).await?;
    // A page deep in the manager's team list: follow "next" 50 times.
    let mut deep = "/cases/team".to_owned();
    {
        let mut c = Conn::open(&haven).await?;
        for _ in 0..50 {
            let page = c.send(&get(deep.clone()), Some(&mgr)).await?;
            match page
                .body
                .find("href=\"/cases/team?after=")
                .map(|i| &page.body[i + 6..])
                .and_then(|r| r.find('"').map(|j| r[..j].replace("&amp;", "&")))
            {
                Some(next) => deep = next,
                None => break,
            }
        }
    }
    let stylesheet = {
        let mut c = Conn::open(&haven).await?;
        let page = c.send(&get("/sign-in"), None).await?;
        let at = page
            .body
            .find("/static/haven.css")
            .ok_or_else(|| anyhow::anyhow!("no stylesheet link on the sign-in page"))?;
        let rest = &page.body[at..];
        rest[..rest.find('"').unwrap_or(rest.len())].replace("&amp;", "&")
    };

    // Only the generator's cases (the referral scenario adds cases of its own, which would shift
    // the order run after run). The note writers write to the first 5,000, the readers read
    // the 5,000 from the 10,001st on, which no run writes to: each run adds about 47,000 notes, and a
    // case page over cases that grow run after run would measure the history of the database,
    // not the build (the read scenarios' cases keep the ten or so entries the generator gave
    // them; until 7 December 2026 notes went to the first 5,000 of all the team's cases, bench
    // referrals' included, so the 5,000 after those are left alone). A database too small for
    // both shares one set.
    let (written, read) = if cases.len() >= 15000 {
        (cases[..5000].to_vec(), cases[10000..].to_vec())
    } else {
        (cases.clone(), cases)
    };
    let cases = Arc::new(read);
    let pick = {
        let cases = cases.clone();
        move |rng: &mut rand::rngs::ThreadRng| cases[rng.gen_range(0..cases.len())]
    };
    let written = Arc::new(written);
    let pick_written = {
        let cases = written.clone();
        move |rng: &mut rand::rngs::ThreadRng| cases[rng.gen_range(0..cases.len())]
    };
    let scenario = |name: &'static str,
                    host: &str,
                    concurrency: usize,
                    session: Option<&Session>,
                    expect: u16,
                    op: Operation| {
        Scenario {
            name,
            host: host.to_owned(),
            concurrency,
            session: session.cloned(),
            operation: op,
            expect,
        }
    };
    let note = |rng: &mut rand::rngs::ThreadRng, case: Uuid| {
        let idem = Uuid::new_v4().to_string();
        let body = format!(
            "Telephone call with the school about attendance, reference {}.",
            rng.r#gen::<u32>()
        );
        vec![post(
            format!("/cases/{case}/notes"),
            &[
                ("body", &body),
                ("when-day", ""),
                ("when-month", ""),
                ("when-year", ""),
                ("time", ""),
                ("corrects", ""),
                ("_idem", &idem),
            ],
        )]
    };
    // A name search in one scope ("mine" or "team"), the same form every time.
    let search = |scope: &'static str, name: &str| -> Operation {
        let name = name.to_owned();
        Arc::new(move |_| vec![post("/cases/search", &[("scope", scope), ("name", &name)])])
    };
    let scenarios = vec![
        scenario("reference page", &reference, concurrency, None, 200, {
            let pick = pick.clone();
            Arc::new(move |rng| vec![get(format!("/cases/{}", pick(rng)))])
        }),
        scenario("case page", &haven, concurrency, Some(&pat), 200, {
            let pick = pick.clone();
            Arc::new(move |rng| vec![get(format!("/cases/{}", pick(rng)))])
        }),
        // A real day opens the same live cases again and again: the same page over 200 cases
        // (a team's current work), whose rows stay in PostgreSQL's buffers. The scenario above,
        // over 5,000 cases of a million, is the cold case.
        scenario(
            "case page (200 busy cases)",
            &haven,
            concurrency,
            Some(&pat),
            200,
            {
                let cases = cases.clone();
                Arc::new(move |rng| {
                    let busy = cases.len().min(200);
                    vec![get(format!("/cases/{}", cases[rng.gen_range(0..busy)]))]
                })
            },
        ),
        scenario(
            "My cases",
            &haven,
            concurrency,
            Some(&pat),
            200,
            Arc::new(|_| vec![get("/cases")]),
        ),
        scenario(
            "My work",
            &haven,
            concurrency,
            Some(&pat),
            200,
            Arc::new(|_| vec![get("/work")]),
        ),
        scenario(
            "Team work",
            &haven,
            concurrency,
            Some(&mgr),
            200,
            Arc::new(|_| vec![get("/work/team")]),
        ),
        scenario(
            "team list first page",
            &haven,
            concurrency,
            Some(&mgr),
            200,
            Arc::new(|_| vec![get("/cases/team")]),
        ),
        scenario(
            "team list 50 pages in",
            &haven,
            concurrency,
            Some(&mgr),
            200,
            {
                let deep = deep.clone();
                Arc::new(move |_| vec![get(deep.clone())])
            },
        ),
        scenario(
            "search smith (mine)",
            &haven,
            concurrency,
            Some(&pat),
            200,
            search("mine", "smith"),
        ),
        scenario(
            "search smith (team)",
            &haven,
            concurrency,
            Some(&mgr),
            200,
            search("team", "smith"),
        ),
        scenario(
            "search rare surname",
            &haven,
            concurrency,
            Some(&pat),
            200,
            search("mine", &rare),
        ),
        scenario(
            "search rare surname (team)",
            &haven,
            concurrency,
            Some(&pat),
            200,
            search("team", &rare),
        ),
        scenario("stylesheet", &haven, concurrency, None, 200, {
            let s = stylesheet.clone();
            Arc::new(move |_| vec![get(s.clone())])
        }),
        scenario("note writers", &haven, 8, Some(&pat), 303, {
            let pick = pick_written.clone();
            Arc::new(move |rng| {
                let c = pick(rng);
                note(rng, c)
            })
        }),
        scenario("note writers", &haven, 64, Some(&pat), 303, {
            let pick = pick_written.clone();
            Arc::new(move |rng| {
                let c = pick(rng);
                note(rng, c)
            })
        }),
    ];

    let warmup = Duration::from_secs(env("BENCH_WARMUP", "2").parse()?);
    let measure = Duration::from_secs(seconds);
    let mut outcomes = Vec::new();
    for s in &scenarios {
        if !only.is_empty() && !only.iter().any(|o| o == s.name) {
            continue;
        }
        eprintln!("measuring {} ({} at once)...", s.name, s.concurrency);
        outcomes.push(run(s, warmup, measure, &db, pid).await?);
    }
    // Whole referrals, 8 at once: each is 11 requests on its own connection.
    if only.is_empty() || only.iter().any(|o| o == "referrals") {
        eprintln!("measuring referrals (8 at once)...");
        let until = Instant::now() + measure;
        let mut tasks = Vec::new();
        let _ = sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(&db)
            .await;
        for _ in 0..8 {
            let (haven, pat) = (haven.clone(), pat.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0;
                while Instant::now() < until {
                    let t = Instant::now();
                    if referral(&haven, &pat).await.unwrap_or(0) != 303 {
                        errors += 1;
                    }
                    lat.push(t.elapsed().as_micros() as u64);
                }
                (lat, errors)
            }));
        }
        let (mut all, mut errors) = (Vec::new(), 0);
        for t in tasks {
            let (l, e) = t.await?;
            all.extend(l);
            errors += e;
        }
        all.sort_unstable();
        let pct = |p: f64| percentile(&all, p);
        let calls: Option<i64> = sqlx::query_scalar(
            "SELECT sum(s.calls)::bigint FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'haven_app'",
        )
        .fetch_one(&db)
        .await
        .ok()
        .flatten();
        outcomes.push(Outcome {
            name: "referrals (11 requests each)",
            concurrency: 8,
            per_second: all.len() as f64 / measure.as_secs_f64(),
            p50: pct(0.5),
            p95: pct(0.95),
            p99: pct(0.99),
            statements: calls.map(|c| c as f64 / (all.len().max(1) * 11) as f64),
            errors,
            rss_mb: pid.and_then(rss_mb),
            requests_per_operation: 11,
        });
    }

    let reference_rate = outcomes
        .iter()
        .find(|o| o.name == "reference page")
        .map(|o| o.per_second);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_default();
    let pg: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&db)
        .await?;
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM case_people),
                (SELECT reltuples::bigint FROM pg_class WHERE relname = 'audit_events')",
    )
    .fetch_one(&db)
    .await?;
    println!(
        "Machine: {} cores, {cpu}; PostgreSQL {pg}. Data: {} cases, {} people, about {} audit rows. {}s a scenario after {}s warm-up.\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        counts.0,
        counts.1,
        counts.2,
        seconds,
        warmup.as_secs()
    );
    println!(
        "| what | at once | per second | p50 ms | p95 ms | p99 ms | of reference | SQL statements a request | errors | server's peak memory MB |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for o in &outcomes {
        let ratio = match reference_rate {
            Some(r) if r > 0.0 && o.requests_per_operation == 1 => {
                format!("{:.2}", o.per_second / r)
            }
            _ => "–".to_owned(),
        };
        println!(
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} |",
            o.name,
            o.concurrency,
            o.per_second,
            o.p50,
            o.p95,
            o.p99,
            ratio,
            o.statements.map_or("–".to_owned(), |s| format!("{s:.1}")),
            o.errors,
            o.rss_mb.map_or("–".to_owned(), |m| format!("{m:.0}")),
        );
    }
    // A scenario that erred or finished nothing is a broken benchmark (or a broken Haven), not a
    // figure: say so and fail, after the table (the smoke run in CI relies on this).
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.errors > 0 || o.per_second == 0.0)
        .map(|o| format!("{} ({} at once)", o.name, o.concurrency))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "these scenarios had errors or completed nothing: {}",
            failed.join(", ")
        );
    }
    Ok(())
}
