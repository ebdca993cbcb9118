import { describe, expect, it } from 'vitest'
import { childrenSentence, nest } from './tree'
import type { ChildRow, TreeLine } from './api'

const line = (id: string, parent: string, depth: number): TreeLine =>
  ({ id, parent, depth, short_name: id, category: '', complete: false, pending: false })

describe('the subtree', () => {
  it('nests depth-first lines under their parents, in order', () => {
    const t = nest([line('a', 'x', 0), line('b', 'a', 1), line('c', 'b', 2), line('d', 'a', 1)])
    expect(t).toEqual([{ id: 'a', label: 'a', children: [
      { id: 'b', label: 'b', children: [{ id: 'c', label: 'c', children: [] }] },
      { id: 'd', label: 'd', children: [] },
    ] }])
  })
  it('says how many children of each category', () => {
    const row = (category: string) => ({ category } as ChildRow)
    expect(childrenSentence('团锦江区委', [row('团委'), row('团支部'), row('团委')]))
      .toBe('团锦江区委共有下级组织:3个,其中团委:2个,团支部:1个')
    expect(childrenSentence('团锦江区委', [])).toBe('团锦江区委共有下级组织:0个')
  })
})
