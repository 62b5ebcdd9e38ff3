/** File names from servers and pages are cut down to one safe name inside the target folder. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseFileName, dispositionName, pathInside, sanitiseFileName } from './http-download.js';

describe('sanitiseFileName', () => {
  it('keeps only the last segment and drops dangerous characters', () => {
    assert.equal(sanitiseFileName('../../etc/passwd'), 'passwd');
    assert.equal(sanitiseFileName('..\\..\\windows\\win.ini'), 'win.ini');
    assert.equal(sanitiseFileName('/abs/path/report.xls'), 'report.xls');
    assert.equal(sanitiseFileName('re\u0000port.xls'), 'report.xls');
    assert.equal(sanitiseFileName('a<b>:c|d?.xlsx'), 'a_b__c_d_.xlsx');
    assert.equal(sanitiseFileName('..'), undefined);
    assert.equal(sanitiseFileName('../'), undefined);
    assert.equal(sanitiseFileName('.hidden'), 'hidden');
    assert.equal(sanitiseFileName('name. . '), 'name');
  });

  it('prefixes reserved device names', () => {
    assert.equal(sanitiseFileName('CON'), '_CON');
    assert.equal(sanitiseFileName('nul.xls'), '_nul.xls');
    assert.equal(sanitiseFileName('com1.txt'), '_com1.txt');
    assert.equal(sanitiseFileName('console.xls'), 'console.xls');
  });

  it('shortens long names and keeps the extension', () => {
    const name = sanitiseFileName(`${'x'.repeat(300)}.xlsx`) ?? '';
    assert.ok(Buffer.byteLength(name) <= 200);
    assert.ok(name.endsWith('.xlsx'));
  });
});

describe('file names from answers', () => {
  it('reads Content-Disposition, preferring filename*', () => {
    assert.equal(dispositionName('attachment; filename="a b.xls"'), 'a b.xls');
    assert.equal(
      dispositionName("attachment; filename=plain.xls; filename*=UTF-8''%C3%BCber.xlsx"),
      'über.xlsx',
    );
    assert.equal(dispositionName('inline'), undefined);
    assert.equal(dispositionName(null), undefined);
  });

  it('falls back from disposition to URL path to a default', () => {
    const headers = (value?: string) =>
      new Headers(value === undefined ? {} : { 'content-disposition': value });
    assert.equal(
      chooseFileName(
        undefined,
        { headers: headers('attachment; filename="../x.xls"'), url: 'http://h/y.xls' },
        'd',
      ),
      'x.xls',
    );
    assert.equal(
      chooseFileName(undefined, { headers: headers(), url: 'http://h/dir/%2E%2E%2Fy.xls' }, 'd'),
      'y.xls',
    );
    assert.equal(
      chooseFileName(undefined, { headers: headers(), url: 'http://h/' }, 'download-7'),
      'download-7',
    );
    assert.equal(chooseFileName('../{item}', { headers: headers(), url: 'http://h/' }, 'd'), '{item}');
  });

  it('refuses a path outside the folder', () => {
    assert.equal(pathInside('/tmp/f', 'a.xls'), '/tmp/f/a.xls');
    assert.throws(() => pathInside('/tmp/f', '../a.xls'));
    assert.throws(() => pathInside('/tmp/f', 'sub/a.xls'));
  });
});
