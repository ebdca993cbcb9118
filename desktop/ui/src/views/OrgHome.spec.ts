// The 组织首页 form with the Rust side replaced by a scripted IPC (the real commands run in
// the end-to-end tests): required marks, locks, the rule's message, a refused save.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import ElementPlus from 'element-plus'
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks'
import OrgHome from './OrgHome.vue'
import type { FormItemRule } from 'element-plus'
import type { Startup, UnitInfo } from '../api'

const unit: UnitInfo = {
  id: 'org-510104', short_name: '团锦江区委', full_name: '共青团成都市锦江区委员会', category: '团的领导机关',
  level: 4, children: 0,
  fields: [
    { key: 'short_name', label: '组织简称', value: '团锦江区委', required: true, locked: '由上级组织填写' },
    { key: 'phone', label: '团组织联系电话', value: '', required: true, locked: null },
    { key: 'youth_count', label: '14~28周岁青年数', value: '', required: false, locked: null },
    { key: 'secretary_id_number', label: '书记身份证号码', value: '', required: true, locked: null },
  ],
  missing: ['团组织联系电话', '书记身份证号码'], violations: [], complete: false, pending: false, synced: false, rejection: null,
}
const startup = { categories: [], industries: [] } as unknown as Startup

function mountHome() {
  return mount(OrgHome, { props: { unit, startup }, global: { plugins: [ElementPlus] }, attachTo: document.body })
}

afterEach(() => clearMocks())

describe('组织首页', () => {
  it('marks required fields, locks the parent’s fields and lists what is missing', () => {
    mockIPC(() => null)
    const w = mountHome()
    expect(w.find('[data-test=field-phone]').classes()).toContain('is-required')
    expect(w.find('[data-test=field-youth_count]').classes()).not.toContain('is-required')
    expect(w.find('[data-test=field-short_name] input').attributes('disabled')).toBeDefined()
    expect(w.find('[data-test=field-short_name]').text()).toContain('由上级组织填写')
    expect(w.find('[data-test=missing]').text()).toContain('尚未填写(2项):团组织联系电话、书记身份证号码')
    w.unmount()
  })

  it('gives the form rules that ask check_field, with the unit’s category and id', async () => {
    // The typing itself is driven in the real window (desktop/tests/window); here the rules
    // the component hands to el-form are run as el-form runs them (async-validator).
    const asked: unknown[] = []
    mockIPC((cmd, args) => {
      if (cmd !== 'check_field') return null
      asked.push(args)
      return { code: 'id_number.checksum', field: 'secretary_id_number', message: '身份证号码校验位错误', error: true }
    })
    const w = mountHome()
    const rules = (w.findComponent({ name: 'ElForm' }).props('rules') as Record<string, FormItemRule[]>).secretary_id_number
    const { default: AsyncValidator } = await import('async-validator')
    const run = (value: string) =>
      new AsyncValidator({ f: rules.map(({ trigger: _t, ...r }) => r) as never })
        .validate({ f: value }, { firstFields: true })
        .then(() => null, (e) => e.errors?.[0]?.message as string)
    expect(await run('510104199001011231')).toBe('身份证号码校验位错误')
    expect(asked).toEqual([{ field: 'secretary_id_number', value: '510104199001011231', category: '团的领导机关', orgId: 'org-510104' }])
    expect(await run('')).toBe('请填写书记身份证号码')
    expect(asked).toHaveLength(1)
    w.unmount()
  })

  it('shows a refused save under its field and sends only the edited fields', async () => {
    let sent: unknown = null
    mockIPC((cmd, args) => {
      if (cmd === 'update_info') {
        sent = args
        throw { code: 'phone.invalid', message: '输入不符合规则:电话号码格式不正确', field: 'phone',
          violations: [{ code: 'phone.invalid', field: 'phone', message: '电话号码格式不正确', error: true }] }
      }
      return null
    })
    const w = mountHome()
    await w.find('[data-test=field-phone] input').setValue('12')
    await w.find('[data-test=save]').trigger('click')
    await flushPromises()
    expect(sent).toEqual({ orgId: 'org-510104', changes: [['phone', '12']] })
    await vi.waitFor(() => expect(w.find('[data-test=field-phone]').text()).toContain('电话号码格式不正确'))
    expect(w.emitted('saved')).toBeUndefined()
    w.unmount()
  })

  it('flags nothing in a unit just opened, even where the previous one had values', async () => {
    mockIPC(() => null)
    const filled: UnitInfo = { ...unit, fields: unit.fields.map((f) => ({ ...f, value: f.key === 'short_name' ? f.value : '1' })) }
    const w = mount(OrgHome, { props: { unit: filled, startup }, global: { plugins: [ElementPlus] }, attachTo: document.body })
    await flushPromises()
    await w.setProps({ unit: { ...unit, id: 'org-other' } })
    await flushPromises()
    // A validation would run asynchronously: wait until none is under way.
    await vi.waitFor(() => expect(w.findAll('.is-validating')).toHaveLength(0))
    expect(w.findAll('.is-error')).toHaveLength(0)
    expect(w.findAll('.el-form-item__error')).toHaveLength(0)
    w.unmount()
  })
})
