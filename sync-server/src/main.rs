//! `zhtj-server`: the sync server and its operator commands. Every argument that has a
//! type is parsed by clap into it (addresses, paths, dates, the trusted proxies, the
//! direction of a move), so a malformed value is refused with exit code 2 and the flag's
//! name before anything is opened; what needs the database (an organization named by id or
//! short name, a schedule item) is judged by the command.

// mimalloc returns freed memory to the system promptly; under glibc's allocator the 19 MiB
// Argon2 blocks and per-document buffers stayed in per-thread arenas (measured: 530–610 MiB
// after 200 registrations, against a 300 MB budget).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sync_server::identity::IdentityConfig;
use sync_server::net::TrustedProxies;
use sync_server::storage::Store;
use sync_server::{Config, operator, schedule, server};
use time::{Date, OffsetDateTime};

/// 智慧团建·组织树同步服务器
#[derive(Parser)]
#[command(
    name = "zhtj-server",
    version,
    about = "智慧团建组织树同步服务器:合并各单位的离线修改并逐条校验"
)]
struct Cli {
    /// 数据目录(SQLite 数据库所在目录)
    #[arg(
        long,
        global = true,
        env = "ZHTJ_SERVER_DATA",
        default_value = "zhtj-server-data"
    )]
    data: PathBuf,
    /// PostgreSQL 数据库(如 postgres://zhtj:密码@db.example:5432/zhtj);不给出时使用数据目录中的 SQLite 文件。多个服务器进程可共用一个 PostgreSQL 数据库
    #[arg(long, global = true, env = "ZHTJ_DATABASE", value_name = "URL")]
    database: Option<String>,
    /// PostgreSQL 只读副本(流复制备库):录入进度、报表和下载变更的读取改由它承担,可能略有滞后
    #[arg(
        long,
        global = true,
        env = "ZHTJ_DATABASE_REPLICA",
        value_name = "URL",
        requires = "database"
    )]
    database_replica: Option<String>,
    /// 每个服务器进程与 PostgreSQL 保持的连接数上限
    #[arg(long, global = true, env = "ZHTJ_DATABASE_POOL", default_value_t = sync_server::config::DEFAULT_POOL, value_parser = clap::value_parser!(u32).range(1..=1000))]
    database_pool: u32,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The PostgreSQL settings, if a database is given.
    fn postgres(&self) -> Option<sync_server::config::PostgresConfig> {
        self.database
            .as_ref()
            .map(|url| sync_server::config::PostgresConfig {
                url: url.clone(),
                replica: self.database_replica.clone(),
                pool: self.database_pool,
            })
    }
}

#[derive(Subcommand)]
enum Command {
    /// 启动服务器(首次启动时初始化组织树并打印团成都市委首位管理员的注册码)
    Serve {
        /// 监听地址
        #[arg(long, env = "ZHTJ_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// 入团年龄的截止日期(此日期前入团须满12周岁,之后须满13周岁)
        #[arg(long, env = "ZHTJ_JOIN_CUTOFF", default_value = "2016-09-01", value_parser = date)]
        join_cutoff: Date,
        /// TLS证书文件(PEM,服务器证书在前、中间证书随后);与 --tls-key 一同给出时以 HTTPS 提供服务
        #[arg(long, env = "ZHTJ_TLS_CERT", value_name = "FILE")]
        tls_cert: Option<PathBuf>,
        /// TLS私钥文件(PEM,未加密)
        #[arg(long, env = "ZHTJ_TLS_KEY", value_name = "FILE")]
        tls_key: Option<PathBuf>,
        /// 可信的反向代理(IP或网段,逗号分隔,如 127.0.0.1,10.0.0.0/8):来自这些地址的请求按 X-Forwarded-For 识别客户端地址
        #[arg(
            long,
            env = "ZHTJ_TRUSTED_PROXIES",
            value_name = "LIST",
            default_value = "",
            value_parser = trusted_proxies
        )]
        trusted_proxy: TrustedProxies,
        /// 同时保持的连接数上限(另受打开文件数上限约束)
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// 等待请求头的最长时间(秒;新连接与空闲的长连接都适用)
        #[arg(long, default_value_t = 15)]
        header_timeout: u64,
        /// 请求正文两段数据之间的最长间隔(秒)
        #[arg(long, default_value_t = 30)]
        body_timeout: u64,
        /// 客户端不读取响应的最长时间(秒)
        #[arg(long, default_value_t = 60)]
        write_timeout: u64,
        /// 活动日程:以通知的日程为准、整体移到此日期开始(YYYY-MM-DD);给出此项或 --schedule 时,启动时替换已保存的日程
        #[arg(long, env = "ZHTJ_SCHEDULE_START", value_name = "DATE", value_parser = date)]
        schedule_start: Option<Date>,
        /// 活动日程中某一事项的截止日期,如 4.info=2026-12-05(可写多个;事项见 zhtj-server schedule)
        #[arg(
            long,
            env = "ZHTJ_SCHEDULE",
            value_name = "ITEM=DATE",
            value_delimiter = ','
        )]
        schedule: Vec<String>,
    },
    /// 查看或设置活动日程(活动开始日期及各级各事项的截止日期;录入进度的逾期事项据此判断)
    #[command(after_help = "\
事项写作 层级.事项(及以下各级加 +):info 录入本级组织信息、children 创建直属下级组织、
codes 为直属下级组织分配管理员注册码;也可写中文名称,如 四级组织录入本级组织信息。

例:zhtj-server schedule --start 2026-12-01           通知的日程整体移到2026-12-01开始
    zhtj-server schedule 4.info=2026-12-05 5.codes=2026-12-16
    zhtj-server schedule --reset                       恢复通知的日程(2017年)
不带参数时显示当前日程。截止日期不能早于活动开始日期。")]
    Schedule {
        /// 以通知的日程为准、整体移到此日期开始(YYYY-MM-DD)
        #[arg(long, value_name = "DATE", value_parser = date)]
        start: Option<Date>,
        /// 恢复通知的日程
        #[arg(long, conflicts_with = "start")]
        reset: bool,
        /// 事项=截止日期,如 4.info=2026-12-05;start=日期 修改活动开始日期
        #[arg(value_name = "ITEM=DATE")]
        items: Vec<String>,
    },
    /// 为某个组织生成管理员注册码(有效期20天)
    IssueCode {
        /// 组织编号或组织简称
        #[arg(long)]
        org: String,
    },
    /// 核对录入进度的汇总数据(各组织下逐级的计数、未建团支部的组织)与按组织树全量计算的结果是否一致;不一致时退出码为1
    CheckRollups {
        /// 按组织树全量重新计算并保存汇总数据
        #[arg(long)]
        repair: bool,
    },
    /// 列出某组织的直属下级组织
    Orgs {
        /// 组织编号或组织简称(默认团成都市委)
        #[arg(long)]
        parent: Option<String>,
    },
    /// 核对组织名称:修改组织简称(及组织全称),记入审计日志
    Rename {
        #[arg(long)]
        org: String,
        /// 新的组织简称
        #[arg(long)]
        short_name: String,
        /// 新的组织全称(不填则自动生成)
        #[arg(long)]
        full_name: Option<String>,
    },
    /// 调整组织排序(上移/下移),记入审计日志
    Reorder {
        #[arg(long)]
        org: String,
        /// up 或 down(上移/下移)
        direction: Direction,
    },
    /// 写入演示数据:成都市组织树(区县、乡镇街道、村社区及学校、企业等)和录入进行中的情况
    Demo {
        /// 随机种子(同一种子生成同样的组织树)
        #[arg(long, default_value_t = 2017)]
        seed: u64,
        /// 规模:chengdu(成都市组织树,约九千个组织)或组织总数(如 100000)
        #[arg(long, default_value = "chengdu")]
        size: sync_server::demo::DemoSize,
    },
    /// 备份数据库到指定文件(服务器运行中也可执行)
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// 记录录入进度快照(各组织各层级的统计数,供“每两日通报”与上次对比;宜每日定时执行)
    Snapshot {
        /// 只记录该组织(组织编号或组织简称;默认所有有下级组织的组织)
        #[arg(long)]
        org: Option<String>,
        /// 快照日期 YYYY-MM-DD(默认今天,北京时间;同一天再次执行则覆盖)
        #[arg(long, value_parser = date)]
        day: Option<Date>,
    },
}

/// `reorder`'s direction.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Direction {
    #[value(alias = "上移")]
    Up,
    #[value(alias = "下移")]
    Down,
}

/// A date argument, `YYYY-MM-DD` (full-width digits too, as everywhere a date is typed).
fn date(s: &str) -> Result<Date, String> {
    schemas::progress::parse_date(s).ok_or_else(|| {
        format!(
            "“{}”不是有效的日期,应为 YYYY-MM-DD,如 2017-12-15",
            schemas::text::truncate_for_message(s)
        )
    })
}

/// `--trusted-proxy`: addresses or networks, comma-separated.
fn trusted_proxies(s: &str) -> Result<TrustedProxies, String> {
    TrustedProxies::parse(s)
        .map_err(|bad| format!("可信代理“{bad}”不是IP地址或网段(如 10.0.0.0/8)"))
}

fn open(
    data: &std::path::Path,
    postgres: &Option<sync_server::config::PostgresConfig>,
) -> sync_server::Result<Store> {
    let config = Config {
        data_dir: data.to_owned(),
        postgres: postgres.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        identity: IdentityConfig::default(),
        schedule: None,
        tls: None,
        net: Default::default(),
        trusted_proxies: Default::default(),
    };
    Ok(server::open_store(&config)?.0)
}

/// The schedule of `serve`'s configuration, if any is given: the notice's, moved to
/// `start` if given, with `items` changed, checked.
fn schedule_config(
    start: Option<Date>,
    items: Vec<String>,
) -> sync_server::Result<Option<schemas::progress::Schedule>> {
    let items: Vec<String> = items.into_iter().filter(|i| !i.trim().is_empty()).collect();
    let changes = schedule::Changes {
        reset: true,
        start: start.map(schemas::progress::format_date),
        items,
    };
    if changes.start.is_none() && changes.items.is_empty() {
        return Ok(None);
    }
    changes.apply(&Default::default()).map(Some)
}

fn run(cli: Cli) -> sync_server::Result<()> {
    let (data, postgres) = (cli.data.clone(), cli.postgres());
    match cli.command {
        Command::Serve {
            listen,
            join_cutoff,
            tls_cert,
            tls_key,
            trusted_proxy,
            max_connections,
            header_timeout,
            body_timeout,
            write_timeout,
            schedule_start,
            schedule,
        } => {
            let secs = std::time::Duration::from_secs;
            let net = sync_server::net::NetLimits {
                max_connections: max_connections.max(1),
                header_timeout: secs(header_timeout.max(1)),
                body_timeout: secs(body_timeout.max(1)),
                write_timeout: secs(write_timeout.max(1)),
            };
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(sync_server::TlsFiles { cert, key }),
                (None, None) => None,
                _ => {
                    return Err(sync_server::Error::invalid(
                        "config.tls",
                        "启用HTTPS须同时给出TLS证书和私钥:--tls-cert 与 --tls-key(或环境变量 ZHTJ_TLS_CERT 与 ZHTJ_TLS_KEY)",
                    ));
                }
            };
            let config = Config {
                postgres,
                data_dir: data,
                listen,
                identity: IdentityConfig {
                    join_rule: schemas::JoinRule {
                        cutoff: join_cutoff,
                    },
                },
                schedule: schedule_config(schedule_start, schedule)?,
                tls,
                net,
                trusted_proxies: trusted_proxy,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                // Blocking work (SQLite, Automerge, Argon2) is serialized on the store and
                // bounded by cores anyway; capping the pool keeps per-thread allocator
                // caches from multiplying memory when hundreds of units sync at once.
                .max_blocking_threads(16)
                .enable_all()
                .build()
                .map_err(|e| sync_server::Error::Internal(e.to_string()))?;
            rt.block_on(async {
                let running = sync_server::start(config.clone()).await?;
                let scheme = if config.tls.is_some() { "https" } else { "http" };
                println!("智慧团建组织树同步服务器已启动:{scheme}://{}", running.addr);
                if config.tls.is_none() && !running.addr.ip().is_loopback() {
                    println!("注意:未启用TLS,密码和数据将以明文传输;本机以外的访问请用 --tls-cert 与 --tls-key 启用HTTPS(或置于HTTPS反向代理之后)。");
                }
                println!("数据库:{}", config.describe_database());
                if let Some(code) = &running.first_code {
                    println!();
                    println!("组织树已初始化(团中央 → 团四川省委 → 团成都市委 → 20个区(市)县团委)。");
                    println!("团成都市委首位管理员注册码:{}", code.code);
                    println!("有效期至:{}(北京时间),仅限一人使用,区分大小写。", schemas::beijing::minute(code.expires_at));
                    println!("组织编号:{}", schemas::initial::org_id(schemas::divisions::chengdu_code()));
                    println!("{}", schemas::code::how_to_register(Some(code.code.as_str())));
                }
                println!("按 Ctrl+C 停止。");
                tokio::select! {
                    r = running.task => { r.map_err(|e| sync_server::Error::Internal(e.to_string()))?.map_err(|e| sync_server::Error::Internal(e.to_string()))?; }
                    _ = tokio::signal::ctrl_c() => { println!("服务器已停止。"); }
                }
                Ok(())
            })
        }
        Command::IssueCode { org } => {
            let store = open(&data, &postgres)?;
            let o = operator::resolve(&store, &org)?;
            let code = sync_server::identity::operator_issue_code(
                &store,
                &o.id,
                OffsetDateTime::now_utc(),
            )?;
            println!("{}({})的管理员注册码:{}", o.short_name, o.id, code.code);
            println!(
                "有效期至:{}(北京时间)",
                schemas::beijing::minute(code.expires_at)
            );
            println!(
                "{}",
                schemas::code::how_to_register(Some(code.code.as_str()))
            );
            Ok(())
        }
        Command::Schedule {
            start,
            reset,
            items,
        } => {
            let store = open(&data, &postgres)?;
            let changes = schedule::Changes {
                reset,
                // The schedule takes the operator's text; a checked date prints back as it.
                start: start.map(schemas::progress::format_date),
                items,
            };
            let s = if changes.is_empty() {
                store.read(schedule::schedule)?
            } else {
                let s = schedule::change(&store, &changes)?;
                println!("已保存活动日程(正在运行的服务器随即按此判断逾期事项):");
                s
            };
            for line in schedule::describe(&s) {
                println!("{line}");
            }
            Ok(())
        }
        Command::CheckRollups { repair } => {
            let store = open(&data, &postgres)?;
            let started = std::time::Instant::now();
            let wrong = operator::check_rollups(&store, repair)?;
            let took = started.elapsed().as_secs_f64();
            if wrong.is_empty() {
                println!("汇总数据与全量计算一致(用时{took:.1}秒)。");
                return Ok(());
            }
            println!("汇总数据与全量计算不一致,以下为前{}处:", wrong.len());
            for w in &wrong {
                println!("  {w}");
            }
            if repair {
                println!("已按组织树全量重新计算并保存(用时{took:.1}秒)。");
                Ok(())
            } else {
                Err(sync_server::Error::invalid(
                    "rollups.mismatch",
                    "汇总数据不一致:请运行 zhtj-server check-rollups --repair 重新计算",
                ))
            }
        }
        Command::Orgs { parent } => {
            let store = open(&data, &postgres)?;
            let parent = operator::resolve(&store, parent.as_deref().unwrap_or("org-5101"))?;
            println!(
                "{}({},{}级)的直属下级组织:",
                parent.short_name, parent.id, parent.level
            );
            for (i, o) in operator::children(&store, &parent.id)?.iter().enumerate() {
                println!(
                    "{:>3}. {}  {}  {}  管理员{}人  下级{}个",
                    i + 1,
                    o.short_name,
                    o.category,
                    o.id,
                    o.admin_count,
                    o.live_children
                );
            }
            Ok(())
        }
        Command::Rename {
            org,
            short_name,
            full_name,
        } => {
            let store = open(&data, &postgres)?;
            let o = operator::resolve(&store, &org)?;
            let (s, f) = operator::rename(&store, &o.id, &short_name, full_name.as_deref())?;
            println!("已将“{}”改为“{s}”,组织全称:{f}", o.short_name);
            Ok(())
        }
        Command::Reorder { org, direction } => {
            let up = direction == Direction::Up;
            let store = open(&data, &postgres)?;
            let o = operator::resolve(&store, &org)?;
            operator::reorder(&store, &o.id, up)?;
            println!("已{}“{}”", if up { "上移" } else { "下移" }, o.short_name);
            Ok(())
        }
        Command::Demo { seed, size } => {
            let store = open(&data, &postgres)?;
            let opts = sync_server::demo::DemoOptions::new(seed, size);
            let summary = sync_server::demo::run(&store, &opts, &mut |line| println!("{line}"))?;
            // A bulk load: the planner's statistics, before anyone queries.
            store.analyze()?;
            print!("{}", summary.report());
            Ok(())
        }
        Command::Backup { out } => {
            let store = open(&data, &postgres)?;
            store.backup(&out)?;
            println!("已备份到 {}", out.display());
            Ok(())
        }
        Command::Snapshot { org, day } => {
            use sync_server::progress;
            let store = open(&data, &postgres)?;
            let day = day.unwrap_or_else(|| progress::Clock::system().day);
            match org {
                Some(org) => {
                    let o = operator::resolve(&store, &org)?;
                    let n = progress::snapshot_org(&store, &o.id, day)?;
                    println!(
                        "已记录{}({}){}的录入进度快照:{n}个层级",
                        o.short_name,
                        o.id,
                        progress::fmt_day(day)
                    );
                }
                None => {
                    let n = progress::snapshot_all(&store, day)?;
                    println!("已记录{n}个组织{}的录入进度快照", progress::fmt_day(day));
                }
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZHTJ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,automerge=off")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误[{}]:{e}", e.code());
            if let sync_server::Error::Invalid { violations, .. } = &e {
                for v in violations {
                    eprintln!("  {v}");
                }
            }
            ExitCode::from(1)
        }
    }
}
