// The commands of the Rust side (desktop/src/lib.rs), typed. Every rule lives there (and in
// `schemas`); this file only forwards.
import { invoke, Channel } from '@tauri-apps/api/core'

export interface UiViolation {
  code: string
  field: string | null
  message: string
  error: boolean
}

/** A refused command: stable code, Chinese message, the field concerned, every violation. */
export interface UiError {
  code: string
  message: string
  field: string | null
  violations: UiViolation[]
}

export interface FieldView {
  key: string
  label: string
  value: string
  required: boolean
  locked: string | null
}

export interface UnitInfo {
  id: string
  short_name: string
  full_name: string
  category: string
  level: number
  children: number
  fields: FieldView[]
  missing: string[]
  violations: UiViolation[]
  complete: boolean
  pending: boolean
  synced: boolean
  rejection: UiViolation[] | null
}

export interface InitialUnit {
  division: string
  short_name: string
}

export interface Startup {
  data_dir: string
  server_url: string | null
  mobile: string | null
  unit: UnitInfo | null
  initial_units: InitialUnit[]
  categories: string[]
  industries: string[]
  auto_sync_seconds: number
  /** No animations or transitions (the window tests' screenshots). */
  no_motion: boolean
}

/** The unit a registration code was issued for, and the posts its category offers. */
export interface CodeUnit {
  org_id: string
  short_name: string
  full_name: string
  category: string
  level: number
  parent_id: string
  parent_short_name: string
  /** Unix seconds. */
  expires_at: number
  roles: string[]
}

/** What 注册 sends (client-core's RegisterRequest). */
export interface RegisterForm {
  code: string
  org_id: string
  role: string
  name: string
  id_number: string
  mobile: string
  /** YYYY-MM */
  join_year_month: string
  password: string
}

export interface RegisterResponse {
  account_id: number
  org_id: string
  org_short_name: string
}

export interface ProgressEvent {
  stage: 'pull' | 'push'
  done: number
  total: number
}

export interface SyncStatus {
  server_url: string | null
  has_token: boolean
  token_expires_at: number | null
  last_sync_at: number | null
  pending: number
  rejected: number
}

export interface SyncSummary {
  pulled: number
  pushed: number
  rejected: number
  status: SyncStatus
}

export interface RefusedUnit {
  id: string
  short_name: string
  at: number
  violations: UiViolation[]
}

export interface TreeLine {
  id: string
  parent: string
  depth: number
  short_name: string
  category: string
  complete: boolean
  pending: boolean
}

export interface CodeView {
  code: string
  expires: string
}

export interface ChildRow {
  id: string
  short_name: string
  full_name: string
  category: string
  industry: string
  phone: string
  complete: boolean
  pending: boolean
  code: CodeView | null
}

/** A direct child to create, as typed (client-core's NewChild). */
export interface NewChild {
  category: string
  short_name: string
  full_name: string
  industry: string
  phone: string
  email: string
  youth_count: string
  recommended_count: string
}

export interface RowResult {
  row: number
  short_name: string
  category: string
  messages: string[]
}

export interface ImportResult {
  created: number
  rows: RowResult[]
  annotated: string | null
}

/** Whatever a command threw, as a UiError (a string from Tauri itself becomes one). */
export function asUiError(e: unknown): UiError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const u = e as Partial<UiError>
    return {
      code: String(u.code),
      message: String(u.message),
      field: u.field ?? null,
      violations: u.violations ?? [],
    }
  }
  return { code: 'desktop.internal', message: `内部错误:${String(e)}`, field: null, violations: [] }
}

/** The messages of an error by field key (for the form), and the ones without a field. */
export function messagesByField(e: UiError): { fields: Record<string, string>; general: string[] } {
  const fields: Record<string, string> = {}
  const general: string[] = []
  for (const v of e.violations) {
    if (v.field && !(v.field in fields)) fields[v.field] = v.message
    else if (!v.field) general.push(v.message)
  }
  if (e.violations.length === 0) general.push(e.message)
  return { fields, general }
}

function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  return invoke<T>(cmd, args).catch((e) => {
    throw asUiError(e)
  })
}

function progressChannel(onProgress: (p: ProgressEvent) => void): Channel<ProgressEvent> {
  const ch = new Channel<ProgressEvent>()
  ch.onmessage = onProgress
  return ch
}

export const api = {
  startup: () => call<Startup>('startup'),
  checkField: (field: string, value: string, category: string | null, orgId: string | null) =>
    call<UiViolation | null>('check_field', { field, value, category, orgId }),
  initOffline: (unit: string) => call<UnitInfo>('init_offline', { unit }),
  setServer: (url: string) => call<string>('set_server', { url }),
  login: (server: string, mobile: string, password: string, onProgress: (p: ProgressEvent) => void) =>
    call<UnitInfo>('login', { server, mobile, password, onProgress: progressChannel(onProgress) }),
  lookupCode: (server: string, code: string) => call<CodeUnit>('lookup_code', { server, code }),
  register: (server: string, form: RegisterForm) => call<RegisterResponse>('register', { server, form }),
  unit: (orgId?: string) => call<UnitInfo>('unit', { orgId: orgId ?? null }),
  updateInfo: (orgId: string, changes: [string, string][]) =>
    call<UnitInfo>('update_info', { orgId, changes }),
  syncStatus: () => call<SyncStatus>('sync_status'),
  rejections: () => call<RefusedUnit[]>('rejections'),
  tree: () => call<TreeLine[]>('tree'),
  children: (parent: string) => call<ChildRow[]>('children', { parent }),
  previewFullName: (parent: string, category: string, shortName: string) =>
    call<string>('preview_full_name', { parent, category, shortName }),
  createChild: (parent: string, child: NewChild) => call<string>('create_child', { parent, child }),
  moveChild: (id: string, up: boolean) => call<void>('move_child', { id, up }),
  deleteChild: (id: string) => call<void>('delete_child', { id }),
  childCode: (id: string) => call<CodeView>('child_code', { id }),
  saveTemplate: () => call<string>('save_template'),
  importChildren: (parent: string, name: string, bytes: Uint8Array, onProgress: (p: ProgressEvent) => void) =>
    call<ImportResult>('import_children', { parent, name, bytes: Array.from(bytes), onProgress: progressChannel(onProgress) }),
  exportCodes: (parent: string) => call<[number, string]>('export_codes', { parent }),
  syncNow: (onProgress: (p: ProgressEvent) => void) =>
    call<SyncSummary>('sync_now', { onProgress: progressChannel(onProgress) }),
}

/** "已下载 120 个组织" / "正在上传 3/10": a progress line in Chinese. */
export function progressText(p: ProgressEvent): string {
  if (p.stage === 'pull') return `正在下载组织数据:已接收 ${p.done} 个${p.total ? ` / 共 ${p.total} 个` : ''}`
  return `正在上传本地修改:${p.done} / ${p.total}`
}

/** Percent for a progress bar (null when the total is unknown). */
export function progressPercent(p: ProgressEvent): number | null {
  if (!p.total) return null
  return Math.min(100, Math.round((p.done * 100) / p.total))
}
