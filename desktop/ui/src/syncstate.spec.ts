import { describe, expect, it } from 'vitest'
import { syncState } from './syncstate'
import type { SyncStatus, UiError } from './api'

const status = (over: Partial<SyncStatus> = {}): SyncStatus => ({
  server_url: 'http://127.0.0.1:8080', has_token: true, token_expires_at: null, last_sync_at: null,
  pending: 0, rejected: 0, ...over,
})
const err = (code: string, message = 'm'): UiError => ({ code, message, field: null, violations: [] })

describe('the sync bar state', () => {
  it('says a replica without a server works offline', () => {
    expect(syncState(status({ server_url: null }), null, null).label).toBe('未连接服务器(离线录入)')
  })
  it('is online after a sync, offline after a network failure with its message', () => {
    expect(syncState(status(), true, null)).toMatchObject({ label: '在线', tag: 'success' })
    const s = syncState(status(), false, err('sync.network', '无法连接服务器(拒绝连接),修改已保存在本地,联网后再同步'))
    expect(s).toMatchObject({ label: '离线', tag: 'danger' })
    expect(s.detail).toContain('修改已保存在本地')
  })
  it('asks for a new login when the session expired', () => {
    expect(syncState(status(), true, err('sync.login_required')).label).toBe('登录已过期')
    expect(syncState(status({ has_token: false }), null, null).label).toBe('登录已过期')
  })
  it('shows another failure (a refused request, garbage) as unfinished, with the reason', () => {
    expect(syncState(status(), true, err('sync.protocol', '服务器的回应无法识别'))).toMatchObject({ label: '同步未完成', detail: '服务器的回应无法识别' })
  })
})
