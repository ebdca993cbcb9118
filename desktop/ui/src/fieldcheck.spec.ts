import { describe, expect, it } from 'vitest'
import type { FormItemRule } from 'element-plus'
import { changedFields, fieldRules } from './fieldcheck'
import type { FieldView } from './api'

const field = (over: Partial<FieldView> = {}): FieldView => ({
  key: 'secretary_id_number', label: '书记身份证号码', value: '', required: true, locked: null, ...over,
})

/** Run the rules as el-form does (async-validator, triggers dropped): the message, or null. */
async function validate(rules: FormItemRule[], value: string): Promise<string | null> {
  const { default: AsyncValidator } = await import('async-validator')
  return new AsyncValidator({ f: rules.map(({ trigger: _t, ...r }) => r) as never })
    .validate({ f: value }, { firstFields: true })
    .then(() => null, (e) => e.errors?.[0]?.message as string)
}

describe('field rules', () => {
  it('marks required fields with the field label in the message', () => {
    const rules = fieldRules(field(), async () => null)
    expect(rules[0]).toMatchObject({ required: true, message: '请填写书记身份证号码' })
    expect(fieldRules(field({ required: false }), async () => null).some((r) => r.required)).toBe(false)
  })

  it("shows the rule's own message from the checker, and nothing for a valid value", async () => {
    const asked: [string, string][] = []
    const rules = fieldRules(field(), async (f, v) => {
      asked.push([f, v])
      return v === 'bad' ? { code: 'id_number.checksum', field: f, message: '身份证号码校验位错误', error: true } : null
    })
    expect(await validate(rules, 'bad')).toBe('身份证号码校验位错误')
    expect(await validate(rules, 'good')).toBeNull()
    expect(asked).toEqual([['secretary_id_number', 'bad'], ['secretary_id_number', 'good']])
  })

  it('does not ask about an empty value (missing is not invalid; required says so)', async () => {
    let asked = false
    const check = async () => ((asked = true), null)
    expect(await validate(fieldRules(field({ required: false }), check), '  ')).toBeNull()
    expect(await validate(fieldRules(field(), check), '')).toBe('请填写书记身份证号码')
    expect(asked).toBe(false)
  })

  it('reports a failed check as an error of the field', async () => {
    const rules = fieldRules(field(), async () => { throw { message: '本机还没有组织数据' } })
    expect(await validate(rules, 'x')).toBe('本机还没有组织数据')
  })
})

describe('changed fields', () => {
  it('sends only edited, unlocked fields', () => {
    const fields = [
      field({ key: 'phone', value: '028-1' }),
      field({ key: 'email', value: '' }),
      field({ key: 'short_name', value: '团锦江区委', locked: '由上级组织填写' }),
    ]
    const model = { phone: '028-1', email: 'a@b.cn', short_name: '改名' }
    expect(changedFields(fields, model)).toEqual([['email', 'a@b.cn']])
  })
})
