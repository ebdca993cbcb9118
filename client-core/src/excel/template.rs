//! The "导入直属下级团组织模板" (rules.md §10): sheet 下级组织 (headers, drop-downs,
//! number checks), 填写说明 (instructions), and the hidden 选项 (the lists).

use std::path::Path;

use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, DataValidationRule, Format, Formula, Workbook,
    Worksheet,
};
use schemas::{Category, Industry};

use super::{
    COLUMNS, Formats, IMPORT_SHEET, MAX_IMPORT_ROWS, RECOMMENDED_COUNT_MAX, TEMPLATE_ROWS,
    YOUTH_COUNT_MAX, template_header,
};
use crate::Result;

/// The hidden sheet holding the drop-down lists.
pub(crate) const OPTIONS_SHEET: &str = "选项";
/// The instructions sheet.
pub(crate) const INSTRUCTIONS_SHEET: &str = "填写说明";

/// Write the empty template to `path` (.xlsx).
///
/// Sheets: 下级组织 (first, active: the header row, required headers in red bold with `*`,
/// frozen; drop-down lists for 组织类别 and 单位所属行业类别 and whole-number checks
/// 0–10000 / 0–1000 for the two counts over rows 2..=10001; text format for the name,
/// phone and e-mail columns so that a landline keeps its leading 0), 填写说明, and the
/// hidden 选项 holding the lists (referenced by range: works in Excel and WPS).
pub fn write_template(path: &Path) -> Result<()> {
    let mut workbook = Workbook::new();
    let formats = Formats::new();
    add_import_sheet(&mut workbook, &formats, TEMPLATE_ROWS)?;
    add_instructions_sheet(&mut workbook, &formats)?;
    add_options_sheet(&mut workbook, &formats)?;
    workbook.save(path)?;
    Ok(())
}

/// Add the 下级组织 sheet with its header row (row 1), widths, frozen header, column
/// formats and validations over rows 2..=`last_data_row`+1 (0-based 1..=last_data_row).
pub(crate) fn add_import_sheet<'a>(
    workbook: &'a mut Workbook,
    formats: &Formats,
    last_data_row: u32,
) -> Result<&'a mut Worksheet> {
    let sheet = workbook.add_worksheet();
    sheet.set_name(IMPORT_SHEET)?;
    for (i, column) in COLUMNS.iter().enumerate() {
        let col = i as u16;
        let format = if column.required {
            &formats.header_required
        } else {
            &formats.header
        };
        sheet.write_string_with_format(0, col, template_header(column), format)?;
        sheet.set_column_width(col, column.width)?;
        // Text format: 028-… keeps its 0, a long number is not shown as 1.38E+10.
        if matches!(
            column.field,
            schemas::Field::ShortName
                | schemas::Field::FullName
                | schemas::Field::Phone
                | schemas::Field::Email
        ) {
            sheet.set_column_format(col, &formats.text)?;
        }
    }
    sheet.set_row_height(0, 22)?;
    sheet.set_freeze_panes(1, 0)?;

    let last = last_data_row.max(1);
    let short_name = DataValidation::new()
        .allow_any_value()
        .set_input_title("组织简称(必填)")?
        .set_input_message(
            "单位/行政区划名称+团委/团工委/团总支/团支部,如:大雅宝社区团支部;\
             班级团支部如:计算机专业2017级3班团支部;不能有空格。",
        )?;
    sheet.add_data_validation(1, 0, last, 0, &short_name)?;

    let categories = list_validation(
        &format!("='{OPTIONS_SHEET}'!$A$2:$A${}", 1 + Category::ALL.len()),
        "组织类别(必填)",
        "请从下拉列表中选择组织类别",
        "组织类别不正确",
        "组织类别只能是:团的领导机关、团工委、团委、团总支、团支部,请从下拉列表中选择。",
    )?;
    sheet.add_data_validation(1, 1, last, 1, &categories)?;

    let industries = list_validation(
        &format!("='{OPTIONS_SHEET}'!$B$2:$B${}", 1 + Industry::ALL.len()),
        "单位所属行业类别",
        "请从下拉列表中选择单位所属行业类别",
        "行业类别不正确",
        "单位所属行业类别只能是16个行业类别之一,请从下拉列表中选择。",
    )?;
    sheet.add_data_validation(1, 3, last, 3, &industries)?;

    let youth = count_validation("14~28周岁青年数", YOUTH_COUNT_MAX)?;
    sheet.add_data_validation(1, 6, last, 6, &youth)?;
    let recommended = count_validation("年度经推优入党团员数", RECOMMENDED_COUNT_MAX)?;
    sheet.add_data_validation(1, 7, last, 7, &recommended)?;

    sheet.set_active(true);
    Ok(sheet)
}

fn list_validation(
    source: &str,
    input_title: &str,
    input_message: &str,
    error_title: &str,
    error_message: &str,
) -> Result<DataValidation> {
    Ok(DataValidation::new()
        .allow_list_formula(Formula::new(source))
        .set_input_title(input_title)?
        .set_input_message(input_message)?
        .set_error_title(error_title)?
        .set_error_message(error_message)?
        .set_error_style(DataValidationErrorStyle::Stop))
}

fn count_validation(label: &str, max: i32) -> Result<DataValidation> {
    Ok(DataValidation::new()
        .allow_whole_number(DataValidationRule::Between(0, max))
        .set_input_title(label)?
        .set_input_message(format!("选填,0~{max}的整数"))?
        .set_error_title(format!("{label}不正确"))?
        .set_error_message(format!("{label}应为0~{max}的整数。"))?
        .set_error_style(DataValidationErrorStyle::Stop))
}

/// Add the hidden 选项 sheet: A = 组织类别 (A2:A6), B = 单位所属行业类别 (B2:B17).
pub(crate) fn add_options_sheet(workbook: &mut Workbook, formats: &Formats) -> Result<()> {
    let sheet = workbook.add_worksheet();
    sheet.set_name(OPTIONS_SHEET)?;
    sheet.write_string_with_format(0, 0, "组织类别", &formats.header)?;
    sheet.write_string_with_format(0, 1, "单位所属行业类别", &formats.header)?;
    for (i, c) in Category::ALL.iter().enumerate() {
        sheet.write_string(1 + i as u32, 0, c.label())?;
    }
    for (i, industry) in Industry::ALL.iter().enumerate() {
        sheet.write_string(1 + i as u32, 1, industry.label())?;
    }
    sheet.set_column_width(0, 16)?;
    sheet.set_column_width(1, 30)?;
    sheet.set_hidden(true);
    Ok(())
}

/// The instructions, one paragraph per line (rules.md §2, §3, §5, §6, §10).
fn instructions() -> Vec<(bool, String)> {
    let categories = Category::ALL.map(|c| c.label()).join("、");
    let industries = Industry::ALL.map(|i| i.label()).join("、");
    let h = |s: &str| (true, s.to_owned());
    let p = |s: String| (false, s);
    vec![
        h("一、填写方法"),
        p(format!(
            "1. 在“{IMPORT_SHEET}”工作表中从第2行起,每行填写一个要创建的直属下级团组织;\
             请不要修改第1行表头,不要删除、调换或重命名列。空白行会被跳过,单元格前后的空格会被自动去掉。"
        )),
        p("2. 表头标红并带“*”的“组织简称”“组织类别”为必填项,缺失或格式不符都会导致导入失败。\
           其余各列可以不填,由下级组织管理员登录后补充。"
            .to_owned()),
        p(format!("3. 组织类别:请从下拉列表中选择,只能是{categories}之一。")),
        p("   团支部下不能再建下级组织;团总支下只能建团支部;团委、团工委下可以建团委、团总支、团支部;\
           团工委只能由团的领导机关创建。"
            .to_owned()),
        p(format!("4. 单位所属行业类别:请从下拉列表中选择,共16类:{industries}。")),
        p("5. 联系电话:手机号码(11位)或固定电话(区号+号码,如028-61310936);电子邮箱如 tuanwei@example.com。"
            .to_owned()),
        p(format!(
            "6. 14~28周岁青年数:0~{YOUTH_COUNT_MAX}的整数;年度经推优入党团员数:0~{RECOMMENDED_COUNT_MAX}的整数。"
        )),
        h("二、组织简称命名规则"),
        p("1. 各区(市)县团委机关(团的领导机关)简称为“团+行政区划名称+委”,例如:团山东省委、团济南市委、\
           团天桥区委、团成都市委、团锦江区委。"
            .to_owned()),
        p("2. 基层团组织简称为“单位/行政区划名称+团委/团工委/团总支/团支部”,结尾须与组织类别一致,例如:\
           建国门街道团委、大雅宝社区团支部、北控集团团委、包装车间团支部。"
            .to_owned()),
        p("3. 学校班级团支部以“(专业)+入学年份+级+班号+班+团支部”命名,入学年份为4位数字,班号为阿拉伯数字,例如:\
           2017级1班团支部、计算机专业2017级3班团支部。"
            .to_owned()),
        p("4. 组织简称中间不能有空格;同一上级组织下的直属下级组织简称不能重复。".to_owned()),
        p("5. 各区(市)县团委机关已初始化到系统中,无需再次创建,只需核对组织排序和组织名称。".to_owned()),
        h("三、组织全称"),
        p("组织全称可以不填,不填时由系统按“中国共产主义青年团+地区+单位名称+委员会/工作委员会/总支部委员会/支部委员会”\
           自动生成,例如团成都市委下的“团锦江区委”生成“中国共产主义青年团成都市锦江区委员会”。\
           请认真核对自动生成的组织全称,需要修正的请在本表中直接填写正确的组织全称。"
            .to_owned()),
        h("四、导入规则"),
        p("1. 上传后系统先检查所有行:只要有任何一行不符合要求,整个文件都不会创建任何组织,\
           并列出每一行的行号、列名和错误原因(可下载标注了错误的文件)。请按提示修改后重新上传整个文件,\
           不会重复创建。"
            .to_owned()),
        p("2. 组织简称、组织全称、组织类别、单位所属行业类别一经创建后不可修改,请在上传前仔细核对。".to_owned()),
        p(format!(
            "3. 支持.xlsx和.xls格式(Excel、WPS保存的文件均可);一个文件最多导入{MAX_IMPORT_ROWS}行。"
        )),
        p("4. 请不要使用合并单元格:合并单元格只有左上角一格有内容,其余各行会被当作未填写。".to_owned()),
        h("五、填写示例(请勿在本页填写)"),
    ]
}

/// Example rows shown on the 填写说明 sheet (not on the import sheet, where they would be
/// imported).
const EXAMPLES: [[&str; 4]; 5] = [
    ["建国门街道团委", "团委", "", "党政机关"],
    ["大雅宝社区团支部", "团支部", "", "城市社区"],
    ["北控集团团委", "团委", "", "国有企业"],
    ["包装车间团支部", "团支部", "", "国有企业"],
    ["计算机专业2017级3班团支部", "团支部", "", "普通高等院校"],
];

/// Add the 填写说明 sheet.
pub(crate) fn add_instructions_sheet(workbook: &mut Workbook, formats: &Formats) -> Result<()> {
    let sheet = workbook.add_worksheet();
    sheet.set_name(INSTRUCTIONS_SHEET)?;
    sheet.set_column_width(0, 28)?;
    sheet.set_column_width(1, 16)?;
    sheet.set_column_width(2, 44)?;
    sheet.set_column_width(3, 28)?;
    let heading = Format::new().set_bold();
    let paragraph = Format::new()
        .set_text_wrap()
        .set_align(rust_xlsxwriter::FormatAlign::Top);
    sheet.write_string_with_format(0, 0, "导入直属下级团组织模板 填写说明", &formats.title)?;
    let mut row = 2u32;
    for (is_heading, text) in instructions() {
        if is_heading {
            row += u32::from(row > 2);
            sheet.write_string_with_format(row, 0, &text, &heading)?;
        } else {
            // One paragraph across A:D, wrapped; Excel does not size merged rows itself,
            // so the height is estimated (about 52 Chinese characters a line at these widths).
            sheet.merge_range(row, 0, row, 3, &text, &paragraph)?;
            let lines = text.chars().count().div_ceil(52).max(1);
            sheet.set_row_height(row, 16.5 * lines as f64)?;
        }
        row += 1;
    }
    for (i, column) in COLUMNS.iter().take(4).enumerate() {
        let format = if column.required {
            &formats.header_required
        } else {
            &formats.header
        };
        sheet.write_string_with_format(row, i as u16, template_header(column), format)?;
    }
    row += 1;
    for example in EXAMPLES {
        for (i, value) in example.iter().enumerate() {
            if !value.is_empty() {
                sheet.write_string(row, i as u16, *value)?;
            }
        }
        row += 1;
    }
    sheet.write_string_with_format(row, 0, "(组织全称留空,由系统自动生成)", &formats.note)?;
    Ok(())
}
