// 注册 with the Rust side replaced by a scripted IPC (the real commands and server run in the
// end-to-end tests): the unit shown before anything personal, refusals by field, what is sent.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import ElementPlus from 'element-plus'
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks'
import Register from './Register.vue'
import type { CodeUnit } from '../api'

const town: CodeUnit = {
  org_id: 'org-x1', short_name: '团红光镇委', full_name: '共青团成都市郫都区红光镇委员会', category: '团委',
  level: 5, parent_id: 'org-510124', parent_short_name: '团郫都区委', expires_at: 1_800_000_000,
  roles: ['书记', '副书记', '组织委员'],
}

function refusal(field: string, code: string, message: string) {
  return { code, message: `输入不符合规则:${message}`, field, violations: [{ code, field, message, error: true }] }
}

function mountRegister() {
  return mount(Register, { props: { server: 'http://127.0.0.1:1' }, global: { plugins: [ElementPlus] }, attachTo: document.body })
}

async function toPersonStep(w: ReturnType<typeof mountRegister>) {
  await w.find('input[data-test=reg-code]').setValue('8v2UcMad')
  await w.find('[data-test=reg-lookup]').trigger('click')
  await flushPromises()
  await w.find('[data-test=reg-confirm]').trigger('click')
  await flushPromises()
}

async function fill(w: ReturnType<typeof mountRegister>, values: Record<string, string>) {
  for (const [k, v] of Object.entries(values)) await w.find(`input[data-test=${k}]`).setValue(v)
}

afterEach(() => clearMocks())

describe('注册', () => {
  it('shows the unit of the code for confirmation before any personal field', async () => {
    const asked: unknown[] = []
    mockIPC((cmd, args) => {
      asked.push([cmd, args])
      return cmd === 'lookup_code' ? town : null
    })
    const w = mountRegister()
    expect(w.find('[data-test=reg-name]').exists()).toBe(false)
    await w.find('input[data-test=reg-code]').setValue('8v2UcMad')
    await w.find('[data-test=reg-lookup]').trigger('click')
    await flushPromises()
    expect(asked).toEqual([['lookup_code', { server: 'http://127.0.0.1:1', code: '8v2UcMad' }]])
    const shown = w.find('[data-test=reg-unit]').text()
    expect(shown).toContain('团红光镇委')
    expect(shown).toContain('共青团成都市郫都区红光镇委员会')
    expect(shown).toContain('团郫都区委')
    expect(w.find('[data-test=reg-name]').exists()).toBe(false)
    await w.find('[data-test=reg-confirm]').trigger('click')
    await flushPromises()
    expect(w.find('[data-test=reg-name]').exists()).toBe(true)
    w.unmount()
  })

  it('shows a refused code under the code field and stays on the first step', async () => {
    mockIPC(() => {
      throw refusal('registration_code', 'code.unknown', '注册码无效、已使用或已过期')
    })
    const w = mountRegister()
    await w.find('input[data-test=reg-code]').setValue('AAAAAAAA')
    await w.find('[data-test=reg-lookup]').trigger('click')
    await flushPromises()
    await vi.waitFor(() =>
      expect(w.find('[data-test=reg-field-registration_code]').text()).toContain('注册码无效、已使用或已过期'),
    )
    expect(w.find('[data-test=reg-unit]').exists()).toBe(false)
    w.unmount()
  })

  it('sends the form with the confirmed unit and shows the join-age rule under its field', async () => {
    let sent: unknown = null
    mockIPC((cmd, args) => {
      if (cmd === 'lookup_code') return town
      sent = args
      throw refusal('join_year_month', 'join.too_young', '入团时未满14周岁:最早可于2014年03月入团')
    })
    const w = mountRegister()
    await toPersonStep(w)
    await w.findComponent({ name: 'ElSelect' }).vm.$emit('update:modelValue', '书记')
    await fill(w, {
      'reg-name': '王五', 'reg-id_number': '510104200001011234', 'reg-mobile': '13800000003',
      'reg-join': '2013-05', 'reg-password': 'Zhtj-2017!', 'reg-password2': 'Zhtj-2017!',
    })
    await w.find('[data-test=reg-submit]').trigger('click')
    await flushPromises()
    expect(sent).toEqual({
      server: 'http://127.0.0.1:1',
      form: {
        code: '8v2UcMad', org_id: 'org-x1', role: '书记', name: '王五', id_number: '510104200001011234',
        mobile: '13800000003', join_year_month: '2013-05', password: 'Zhtj-2017!',
      },
    })
    await vi.waitFor(() =>
      expect(w.find('[data-test=reg-field-join_year_month]').text()).toContain('最早可于2014年03月入团'),
    )
    expect(w.emitted('registered')).toBeUndefined()
    w.unmount()
  })

  it('shows a code refused at the last step above the form, and sends nothing on unequal passwords', async () => {
    let registers = 0
    mockIPC((cmd) => {
      if (cmd === 'lookup_code') return town
      registers++
      throw refusal('registration_code', 'code.unknown', '注册码无效、已使用或已过期')
    })
    const w = mountRegister()
    await toPersonStep(w)
    await w.findComponent({ name: 'ElSelect' }).vm.$emit('update:modelValue', '书记')
    await fill(w, { 'reg-password': 'a', 'reg-password2': 'b' })
    await w.find('[data-test=reg-submit]').trigger('click')
    await flushPromises()
    await vi.waitFor(() => expect(w.find('[data-test=reg-field-password2]').text()).toContain('两次输入的密码不一致'))
    expect(registers).toBe(0)
    await fill(w, { 'reg-password2': 'a' })
    await w.find('[data-test=reg-submit]').trigger('click')
    await flushPromises()
    expect(registers).toBe(1)
    expect(w.find('[data-test=reg-error]').text()).toContain('注册码无效、已使用或已过期')
    w.unmount()
  })
})
