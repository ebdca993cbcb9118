//! The command line of `zhtj`: every subcommand, its options and its Chinese help (clap
//! types only; what the commands do is in `local`, `online`, `supervise` and `history`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Appended to the top-level help: what scripts can rely on.
const AFTER_HELP: &str = "\
ORG(组织)可写组织编号或组织简称;省略时为本组织。

退出码(供脚本判断):
  0  成功
  1  不符合规则被拒绝:数据校验未通过、导入文件有错误行、操作不允许(如删除还有下级的组织)
  2  用法错误:参数缺失或写错
  3  找不到:组织不存在、预置组织中没有该单位、本地数据尚未初始化
  4  本地存储或文件读写错误
  5  无法连接服务器或服务器出错(修改已保存在本地,联网后再同步)
  6  尚未登录或登录已过期,需要 zhtj login 重新登录

联网:zhtj register --code 注册码 注册管理员账号(注册码即指明组织,确认后填写本人信息);
zhtj login 登录(首次登录时下载本组织数据);
zhtj sync 上传本地修改并接收上级、下级的更新;zhtj logout 退出登录。
服务器地址可用 --server 或环境变量 ZHTJ_SERVER 指定,密码可用 --password 或环境变量
ZHTJ_PASSWORD 提供,在终端中运行时也可以直接按提示输入(不显示)。
服务器使用本市自建的证书(https)时,用 --ca 或环境变量 ZHTJ_CA 指定其根证书文件。

出错时标准错误输出第一行为“错误[机器代码]:说明”,其后每条违反的规则一行。
加 --json 时 show、tree、list、status、create、preview-name、code、codes、progress、history、sync、login、register 以 JSON 输出到标准输出。";

const EXIT_CODES_SHORT: &str = "退出码:0 成功;1 不符合规则被拒绝;2 用法错误;3 找不到;4 本地存储或文件错误;\
     5 无法连接服务器;6 需要重新登录。";

/// The help of the commands that talk to the server.
const EXIT_CODES_ONLINE: &str = "\
退出码:0 成功;1 被拒绝(注册信息有误、注册码无效、手机号码或密码错误、尝试过于频繁,
或同步时有组织的修改被服务器退回);2 用法错误;3 找不到(组织或本地数据);4 本地存储错误;
5 无法连接服务器或服务器出错(本地数据不受影响,联网后重试即可);6 尚未登录或登录已过期。";

/// 智慧团建 组织树建立(成青办〔2017〕70号):在本机离线维护本组织及其全部下级组织。
#[derive(Debug, Parser)]
#[command(name = "zhtj", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// 本地数据目录(本地数据文件为其中的 replica.sqlite3)
    #[arg(
        long,
        global = true,
        env = "ZHTJ_DATA",
        default_value = "./zhtj-data",
        value_name = "DIR"
    )]
    pub data: PathBuf,

    /// 以 JSON 输出结果,供脚本使用
    #[arg(long, global = true)]
    pub json: bool,

    /// 另行信任的根证书文件(PEM):服务器使用本市自建的证书时指定;公网证书无须指定
    #[arg(long, global = true, env = "ZHTJ_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// 为预置的团组织离线建立本地数据(如 zhtj init 团锦江区委 或 zhtj init 510104)
    #[command(after_help = EXIT_CODES_SHORT)]
    Init {
        /// 行政区划代码(如 510104)或组织简称(如 团锦江区委)
        #[arg(value_name = "UNIT")]
        unit: String,
    },

    /// 查看组织信息、是否完整(缺少的必填项、填写有误的项)和同步状态
    #[command(after_help = EXIT_CODES_SHORT)]
    Show {
        /// 组织编号或组织简称,省略时为本组织
        #[arg(value_name = "ORG")]
        org: Option<String>,
        /// 显示完整的身份证号码和手机号码(默认隐藏中间几位)
        #[arg(long)]
        full: bool,
    },

    /// 填写或修改组织信息:字段=值(字段写中文名称如 书记姓名,或英文键如 secretary_name;值留空表示清除)
    #[command(after_help = "\
可填写的字段:组织类别、组织简称、组织全称、单位所属行业类别、团组织联系电话、团组织电子邮箱、
本级团组织行政编制数、行政编制实际配备数、本级团组织事业编制数、事业编制实际配备数、
14~28周岁青年数、年度经推优入党团员数、书记姓名、书记身份证号码、书记手机号码。
组织类别、组织简称、组织全称由上级组织填写,本组织不能修改。

例:zhtj set 书记姓名=张三 书记手机号码=13812345678 本级团组织行政编制数=0

退出码:0 成功;1 不符合规则被拒绝(未保存任何修改);2 用法错误(如字段名写错);3 找不到;4 本地存储错误。")]
    Set {
        /// 要修改的组织(组织编号或组织简称),省略时为本组织
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
        /// 字段=值,可写多个
        #[arg(required = true, value_name = "FIELD=VALUE")]
        pairs: Vec<String>,
    },

    /// 创建直属下级组织,显示新组织的编号和自动生成的组织全称
    #[command(after_help = EXIT_CODES_SHORT)]
    Create(CreateArgs),

    /// 预览下级组织自动生成的组织全称(不创建)
    #[command(after_help = EXIT_CODES_SHORT)]
    PreviewName {
        /// 组织类别:团的领导机关、团工委、团委、团总支、团支部
        #[arg(long, value_name = "CATEGORY")]
        category: String,
        /// 组织简称,如 包装车间团支部
        #[arg(long, value_name = "NAME")]
        name: String,
        /// 上级组织(组织编号或组织简称),省略时为本组织
        #[arg(long, value_name = "ORG")]
        parent: Option<String>,
    },

    /// 生成“批量创建下级组织”的 Excel 导入模板(.xlsx)
    #[command(after_help = EXIT_CODES_SHORT)]
    Template {
        /// 模板保存位置,如 导入模板.xlsx
        #[arg(value_name = "OUT.xlsx")]
        out: PathBuf,
    },

    /// 从 Excel 文件(.xlsx 或 .xls)批量创建直属下级组织;只要有一行有错误,就不创建任何组织
    #[command(after_help = "\
有错误时逐行列出错误(第N行 列名:原因),并生成错误标注文件(默认与导入文件同目录,
文件名为“<原文件名>-错误标注.xlsx”),按其中“错误说明”列修改后重新导入整个文件即可。

退出码:0 全部创建成功;1 文件有错误行或无法使用,未创建任何组织;2 用法错误;3 找不到;4 文件读写或本地存储错误。")]
    Import {
        /// 填好的导入文件
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// 上级组织(组织编号或组织简称),省略时为本组织
        #[arg(long, value_name = "ORG")]
        parent: Option<String>,
        /// 错误标注文件的保存位置
        #[arg(long, value_name = "OUT.xlsx")]
        annotated: Option<PathBuf>,
    },

    /// 以树形显示本组织及全部下级组织(组织类别、信息是否完整、是否有待同步的修改)
    #[command(after_help = EXIT_CODES_SHORT)]
    Tree,

    /// 列出直属下级组织及其序号(排序用)
    #[command(after_help = EXIT_CODES_SHORT)]
    List {
        /// 上级组织(组织编号或组织简称),省略时为本组织
        #[arg(long, value_name = "ORG")]
        parent: Option<String>,
    },

    /// 上移或下移一个下级组织(调整排序)
    #[command(after_help = EXIT_CODES_SHORT)]
    Move {
        /// 要移动的组织:组织编号、组织简称,或 list 显示的序号(配合 --parent)
        #[arg(value_name = "ORG")]
        org: String,
        /// 方向:up(上移)或 down(下移)
        #[arg(value_name = "DIRECTION")]
        direction: MoveDirection,
        /// 用序号指定组织时,序号所在的上级组织,省略时为本组织
        #[arg(long, value_name = "ORG")]
        parent: Option<String>,
    },

    /// 删除一个下级组织(其下不能还有组织,也不能已有注册的管理员)
    #[command(after_help = EXIT_CODES_SHORT)]
    Delete {
        /// 要删除的组织(组织编号或组织简称)
        #[arg(value_name = "ORG")]
        org: String,
    },

    /// 为一个下级组织生成管理员注册码(8位,区分大小写,有效期20天)
    #[command(after_help = EXIT_CODES_SHORT)]
    Code {
        /// 下级组织(组织编号或组织简称)
        #[arg(value_name = "ORG")]
        org: String,
    },

    /// 批量生成注册码:为每个还没有有效注册码的直属下级组织生成一个,再列出全部注册码
    #[command(after_help = EXIT_CODES_SHORT)]
    Codes {
        /// 上级组织(组织编号或组织简称),省略时为本组织
        #[arg(long, value_name = "ORG")]
        parent: Option<String>,
        /// 同时把注册码导出为 Excel 文件
        #[arg(long, value_name = "OUT.xlsx")]
        export: Option<PathBuf>,
    },

    /// 导出本组织及全部下级组织的信息表(Excel,书记手机号码隐藏中间四位)
    #[command(after_help = EXIT_CODES_SHORT)]
    Export {
        /// 保存位置,如 组织列表.xlsx
        #[arg(value_name = "OUT.xlsx")]
        out: PathBuf,
    },

    /// 查看各级下级组织的录入进度,以及还没有团支部的团委、团工委、团总支
    #[command(after_help = EXIT_CODES_SHORT)]
    Progress,

    /// 查看本地数据概况:本组织、组织数、待同步的修改
    #[command(after_help = EXIT_CODES_SHORT)]
    Status,

    /// 查看组织的修改记录:每项信息的原值和新值、修改时间、修改的组织和管理员(姓名隐去)、是否离线修改后同步,以及同时修改时被覆盖的值
    #[command(after_help = "\
修改记录来自本地数据(含上次同步时从服务器收到的修改人记录),离线也可查看;
加 --online 时改为向服务器查询(需已登录)。

例:zhtj history 春熙路街道团工委 --field 团组织联系电话

退出码:0 成功;2 用法错误;3 找不到组织;4 本地存储错误;5 无法连接服务器(--online);6 需要重新登录(--online)。")]
    History(HistoryArgs),

    /// 用上级组织发放的管理员注册码,在服务器上注册本组织的管理员账号(需联网)
    #[command(after_help = EXIT_CODES_ONLINE)]
    Register(RegisterArgs),

    /// 登录服务器;首次登录时建立本地数据并下载本组织及全部下级组织(需联网)
    #[command(after_help = EXIT_CODES_ONLINE)]
    Login(LoginArgs),

    /// 与服务器同步:上传本地修改,接收上级代填和下级组织的更新,显示被退回的修改及原因
    #[command(after_help = EXIT_CODES_ONLINE)]
    Sync,

    /// 退出登录(本地数据保留,可继续离线使用;再次同步前需重新登录)
    #[command(after_help = EXIT_CODES_ONLINE)]
    Logout,

    /// 从服务器查看本组织或某下级组织的录入进度:各级录入情况、逾期事项、直属下级汇总、未建团支部的组织(需联网)
    #[command(after_help = EXIT_CODES_ONLINE)]
    ServerProgress(ServerProgressArgs),

    /// 从服务器下载录入情况报表(Excel:汇总及与上次对比、各级录入情况、逾期事项、未建团支部的组织;需联网)
    #[command(after_help = EXIT_CODES_ONLINE)]
    Report(ReportArgs),

    /// (测试用)逐个创建 N 个团支部,每创建成功一个就输出其编号
    #[command(hide = true)]
    StressCreate {
        /// 要创建的个数
        #[arg(long)]
        count: u64,
        /// 上级组织,省略时为本组织
        #[arg(long, value_name = "ORG")]
        parent: Option<String>,
    },
}

/// 创建直属下级组织的参数。
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// 组织类别:团的领导机关、团工委、团委、团总支、团支部
    #[arg(long, value_name = "CATEGORY")]
    pub category: String,
    /// 组织简称,如 包装车间团支部
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// 上级组织(组织编号或组织简称),省略时为本组织
    #[arg(long, value_name = "ORG")]
    pub parent: Option<String>,
    /// 组织全称;省略时按规则自动生成
    #[arg(long, value_name = "FULL_NAME")]
    pub full_name: Option<String>,
    /// 单位所属行业类别,如 非公企业
    #[arg(long, value_name = "INDUSTRY")]
    pub industry: Option<String>,
    /// 联系电话(手机号码或 028-61310936 形式的座机)
    #[arg(long, value_name = "PHONE")]
    pub phone: Option<String>,
    /// 电子邮箱
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    /// 14~28周岁青年数(0–10000)
    #[arg(long, value_name = "N")]
    pub youth: Option<String>,
    /// 年度经推优入党团员数(0–1000)
    #[arg(long, value_name = "N")]
    pub recommended: Option<String>,
}

/// 注册管理员账号的参数(rules.md §8)。
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// 服务器地址,如 https://zhtj.example.cn;省略时用上次登录的服务器
    #[arg(long, env = "ZHTJ_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// 上级组织发放的管理员注册码(8位,区分大小写);注册码即指明所属组织
    #[arg(long, value_name = "CODE")]
    pub code: String,
    /// 要注册的组织(组织编号或组织简称,可省略);给出时须与注册码所属的组织一致
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// 不再询问,确认注册码所属的组织就是要注册的组织
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// 团内职务,如 书记、副书记、组织委员
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// 姓名
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// 身份证号码(18位)
    #[arg(long, value_name = "ID_NUMBER")]
    pub id_number: String,
    /// 手机号码(登录时使用)
    #[arg(long, value_name = "MOBILE")]
    pub mobile: String,
    /// 入团年月,如 2010-05
    #[arg(long, value_name = "YYYY-MM")]
    pub join: String,
    /// 密码(至少8位,含字母和数字);省略时读环境变量 ZHTJ_PASSWORD,或在终端中提示输入
    #[arg(
        long,
        env = "ZHTJ_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,
}

/// 查看修改记录的参数。
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// 组织编号或组织简称,省略时为本组织
    #[arg(value_name = "ORG")]
    pub org: Option<String>,
    /// 只看这一项信息(中文名称如 团组织联系电话,或英文键如 phone)
    #[arg(long, value_name = "FIELD")]
    pub field: Option<String>,
    /// 显示完整的身份证号码和手机号码(默认隐藏中间几位)
    #[arg(long)]
    pub full: bool,
    /// 向服务器查询(需已登录),而不是读本地数据
    #[arg(long)]
    pub online: bool,
}

/// 登录的参数。
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// 服务器地址,如 https://zhtj.example.cn;省略时用上次登录的服务器
    #[arg(long, env = "ZHTJ_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// 注册时填写的手机号码;省略时用上次登录的手机号码
    #[arg(long, value_name = "MOBILE")]
    pub mobile: Option<String>,
    /// 一人管理多个组织时,要登录的组织编号(本地已有数据时默认为本组织)
    #[arg(long, value_name = "ORG_ID")]
    pub org: Option<String>,
    /// 密码;省略时读环境变量 ZHTJ_PASSWORD,或在终端中提示输入
    #[arg(
        long,
        env = "ZHTJ_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServerProgressArgs {
    /// 查看哪个组织的下级录入情况(组织编号或组织简称,须在本组织范围内;默认本组织)
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// 只看这一级(如 5 为五级组织录入情况),列出更多行
    #[arg(long, value_name = "N")]
    pub level: Option<u8>,
    /// 每级列出的行数(默认:查看全部层级时10行,指定 --level 时50行;最多500)
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// 从第几行之后列出(与 --level 一起翻页)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub offset: u64,
    /// 按此日期判断逾期事项(YYYY-MM-DD,默认今天)
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// 保存为(如 录入情况.xlsx)
    #[arg(value_name = "OUT.xlsx")]
    pub out: PathBuf,
    /// 哪个组织的录入情况(组织编号或组织简称,须在本组织范围内;默认本组织)
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
}

/// 上移 / 下移.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MoveDirection {
    /// 上移
    #[value(alias = "上移")]
    Up,
    /// 下移
    #[value(alias = "下移")]
    Down,
}
