import { describe, expect, it } from 'vitest'
import { asUiError, messagesByField, progressPercent, progressText } from './api'
import { beijingDateTime, lastSyncText } from './synctext'

describe('errors from commands', () => {
  it('keeps the code, message, field and violations of a command error', () => {
    const e = asUiError({
      code: 'id_number.checksum',
      message: '输入不符合规则:身份证号码校验位错误',
      field: 'secretary_id_number',
      violations: [{ code: 'id_number.checksum', field: 'secretary_id_number', message: '身份证号码校验位错误', error: true }],
    })
    expect(e.code).toBe('id_number.checksum')
    expect(e.field).toBe('secretary_id_number')
    expect(messagesByField(e)).toEqual({ fields: { secretary_id_number: '身份证号码校验位错误' }, general: [] })
  })

  it('turns anything else into an internal error with a Chinese message', () => {
    const e = asUiError('boom')
    expect(e.code).toBe('desktop.internal')
    expect(e.message).toContain('内部错误')
    expect(messagesByField(e).general).toEqual([e.message])
  })

  it('keeps the first message of a field and the ones without a field', () => {
    const e = asUiError({
      code: 'x', message: 'm', field: 'phone',
      violations: [
        { code: 'a', field: 'phone', message: '一', error: true },
        { code: 'b', field: 'phone', message: '二', error: true },
        { code: 'c', field: null, message: '三', error: true },
      ],
    })
    expect(messagesByField(e)).toEqual({ fields: { phone: '一' }, general: ['三'] })
  })
})

describe('progress', () => {
  it('says what is happening, with a percentage only when the total is known', () => {
    expect(progressText({ stage: 'pull', done: 120, total: 0 })).toBe('正在下载组织数据:已接收 120 个')
    expect(progressPercent({ stage: 'pull', done: 120, total: 0 })).toBeNull()
    expect(progressText({ stage: 'push', done: 3, total: 10 })).toBe('正在上传本地修改:3 / 10')
    expect(progressPercent({ stage: 'push', done: 3, total: 10 })).toBe(30)
  })
})

describe('last sync', () => {
  it('writes dates in Beijing time as the notice does', () => {
    // 2017-12-07 01:05 UTC = 2017年12月7日 9:05 in Beijing
    expect(beijingDateTime(Date.UTC(2017, 11, 7, 1, 5) / 1000)).toBe('2017年12月7日 9:05')
    expect(lastSyncText(null)).toBe('尚未同步')
    expect(lastSyncText(1000, 1030)).toBe('上次同步:刚刚')
    expect(lastSyncText(Date.UTC(2017, 11, 7, 1, 5) / 1000)).toBe('上次同步:2017年12月7日 9:05')
  })
})
