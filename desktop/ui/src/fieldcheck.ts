// Form rules for Element Plus that ask the Rust side (`check_field`, i.e. schemas) whether a
// value is valid. Only "required" is decided here, from the flag the Rust side sent.
import type { FormItemRule } from 'element-plus'
import type { FieldView, UiViolation } from './api'

export type Checker = (field: string, value: string) => Promise<UiViolation | null>

/** The rules of one field: required (red *) and the schemas rule, checked as typed. */
export function fieldRules(f: FieldView, check: Checker): FormItemRule[] {
  const rules: FormItemRule[] = []
  if (f.required) {
    rules.push({ required: true, message: `请填写${f.label}`, trigger: ['blur', 'change'] })
  }
  rules.push({
    trigger: ['blur', 'change'],
    asyncValidator: async (_rule, value) => {
      const v = String(value ?? '')
      if (v.trim() === '') return
      let violation
      try {
        violation = await check(f.key, v)
      } catch (e) {
        throw new Error((e as { message?: string })?.message ?? String(e))
      }
      if (violation) throw new Error(violation.message)
    },
  })
  return rules
}

/** The fields whose value differs from what was loaded, as [key, value] pairs to save. */
export function changedFields(fields: FieldView[], model: Record<string, string>): [string, string][] {
  return fields
    .filter((f) => !f.locked && (model[f.key] ?? '') !== f.value)
    .map((f) => [f.key, model[f.key] ?? ''] as [string, string])
}

/** Fields with a fixed list of choices (a select instead of a text input). */
export const SELECT_FIELDS = new Set(['category', 'industry'])
