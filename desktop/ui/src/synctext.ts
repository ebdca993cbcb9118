// Dates as the notice writes them in sentences: 2017年12月7日 9:05 (Beijing time).

/** "上次同步:2026年12月5日 14:03" or "尚未同步", from unix seconds. */
export function lastSyncText(at: number | null, now: number = Date.now() / 1000): string {
  if (at === null) return '尚未同步'
  if (now - at < 60) return '上次同步:刚刚'
  return `上次同步:${beijingDateTime(at)}`
}

/** Unix seconds → "2026年12月5日 14:03" in Beijing time, whatever the computer's zone. */
export function beijingDateTime(at: number): string {
  const d = new Date((at + 8 * 3600) * 1000)
  const mm = String(d.getUTCMinutes()).padStart(2, '0')
  return `${d.getUTCFullYear()}年${d.getUTCMonth() + 1}月${d.getUTCDate()}日 ${d.getUTCHours()}:${mm}`
}
