import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCron, describeSchedule } from './describe-schedule.js';

test('puts common shapes into words with the zone', () => {
  const cases: Array<[string, string, string]> = [
    ['0 8 * * 1', 'Europe/Berlin', 'Mondays at 08:00, Europe/Berlin'],
    ['0 8 * * MON', 'Europe/Berlin', 'Mondays at 08:00, Europe/Berlin'],
    ['30 * * * *', 'UTC', 'every hour at :30, UTC'],
    ['15 7 * * *', 'America/New_York', 'daily at 07:15, America/New_York'],
    ['* * * * *', 'UTC', 'every minute, UTC'],
    ['*/15 * * * *', 'UTC', 'every 15 minutes, UTC'],
    ['0 */6 * * *', 'UTC', 'every 6 hours at :00, UTC'],
    ['0 7 * * 1-5', 'UTC', 'weekdays at 07:00, UTC'],
    ['0 10 * * 6,0', 'UTC', 'weekends at 10:00, UTC'],
    ['0 9 * * MON,WED,FRI', 'UTC', 'Mondays, Wednesdays and Fridays at 09:00, UTC'],
    ['0 9 * * 0,1', 'UTC', 'Mondays and Sundays at 09:00, UTC'],
    ['0 8,17 * * *', 'UTC', 'daily at 08:00 and 17:00, UTC'],
    ['0 6 1 * *', 'UTC', 'monthly on the 1st at 06:00, UTC'],
    ['0 6 22 * *', 'UTC', 'monthly on the 22nd at 06:00, UTC'],
    ['0 23 L * *', 'UTC', 'monthly on the last day at 23:00, UTC'],
    ['0 0 1 1 *', 'UTC', 'yearly on 1 January at 00:00, UTC'],
    ['@daily', 'UTC', 'daily at 00:00, UTC'],
    ['@hourly', 'UTC', 'every hour at :00, UTC'],
    ['@weekly', 'UTC', 'Sundays at 00:00, UTC'],
    ['30 15 7 * * *', 'UTC', 'daily at 07:15:30, UTC'],
    ['0 30 2 * * *', 'UTC', 'daily at 02:30, UTC'],
  ];
  for (const [cron, zone, expected] of cases) assert.equal(describeCron(cron, zone), expected, cron);
});

test('falls back to the cron text for complex or invalid expressions', () => {
  const complex = [
    '0 9 1-7 * MON',
    '0 9-17 * * *',
    '*/7 * * * *',
    '0 8 * * 1#2',
    '5,10 8 * * *',
    'not a cron',
    '0 0 1 1 * 2027',
  ];
  for (const cron of complex)
    assert.equal(describeCron(cron, 'Europe/Berlin'), `cron "${cron}", Europe/Berlin`, cron);
});

test('uses the schedule zone, else the project zone', () => {
  assert.equal(
    describeSchedule({ cron: '0 8 * * 1', timezone: 'Asia/Tokyo' }, 'UTC'),
    'Mondays at 08:00, Asia/Tokyo',
  );
  assert.equal(describeSchedule({ cron: '0 8 * * 1' }, 'Europe/Berlin'), 'Mondays at 08:00, Europe/Berlin');
});
