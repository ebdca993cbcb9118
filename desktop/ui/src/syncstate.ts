// What the sync bar's tag says, from the last status and the last attempt.
import type { SyncStatus, UiError } from './api'

export interface SyncState {
  label: string
  tag: 'success' | 'danger' | 'warning' | 'info'
  detail: string
}

export function syncState(status: SyncStatus | null, online: boolean | null, error: UiError | null): SyncState {
  if (!status?.server_url) return { label: '未连接服务器(离线录入)', tag: 'info', detail: '登录后可同步' }
  if (error?.code === 'sync.login_required' || (status && !status.has_token))
    return { label: '登录已过期', tag: 'warning', detail: error?.message ?? '尚未登录或登录已过期,请重新登录' }
  if (online === false) return { label: '离线', tag: 'danger', detail: error?.message ?? '' }
  if (error) return { label: '同步未完成', tag: 'warning', detail: error.message }
  if (online) return { label: '在线', tag: 'success', detail: status.server_url }
  return { label: '连接中', tag: 'info', detail: status.server_url }
}
