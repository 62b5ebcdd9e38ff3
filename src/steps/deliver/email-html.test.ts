/** Unit tests of the pieces of a message: plain text from HTML, images made inline, addresses, sizes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findSvgElements, htmlToText, inlineImages, markdownToHtml, svgToPng } from './email-html.js';
import { addressList, displayUrl, formatBytes, parseByteSize } from './deliver-common.js';

describe('htmlToText', () => {
  it('keeps structure: headings, paragraphs, lists, table cells, links, images, pre', () => {
    const html = `<!doctype html><html><head><title>x</title><style>p{}</style></head><body>
      <h1>Weekly&nbsp;report</h1><p>Max &gt; 30 &amp; rising &#8211; see <a href="https://example.com/r?id=1">the run</a>.</p>
      <ul><li>probe1</li><li>probe2</li></ul>
      <table><tr><th>probe</th><th>max</th></tr><tr><td>p1</td><td>31.5</td></tr></table>
      <img src="cid:x.png" alt="Hourly chart"><pre>08:00 info  a\n08:01 warn  b</pre><svg><text>hidden</text></svg>
      </body></html>`;
    assert.equal(
      htmlToText(html),
      [
        'Weekly report',
        '',
        'Max > 30 & rising – see the run <https://example.com/r?id=1>.',
        '',
        '- probe1',
        '- probe2',
        '',
        'probe | max',
        'p1 | 31.5',
        '',
        '[Hourly chart]',
        '08:00 info  a',
        '08:01 warn  b',
        '',
      ].join('\n'),
    );
  });

  it('renders Markdown with raw HTML passing through', async () => {
    const html = await markdownToHtml(
      '# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<div class="x">raw</div>\n',
    );
    assert.match(html, /<h1>Title<\/h1>/);
    assert.match(html, /<table>/);
    assert.match(html, /<div class="x">raw<\/div>/);
  });
});

describe('inlineImages', () => {
  const svg =
    '<svg width="40" height="20"><rect width="40" height="20" fill="red"/><svg><circle r="2"/></svg></svg>';

  it('finds outermost svg elements, nested ones included in their parent', () => {
    const found = findSvgElements(`<p>${svg}</p><svg/>`);
    assert.deepEqual(
      found.map((element) => element.markup),
      [svg, '<svg/>'],
    );
  });

  it('renders inline SVG to PNG, decodes data: PNGs, leaves remote and unknown images with a warning', async () => {
    const png = (await svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')).png;
    const html = `<p>${svg}</p><img src="data:image/png;base64,${png.toString('base64')}" alt="d"><img src="https://example.com/logo.png"><img src="missing.png" alt="m">`;
    const result = await inlineImages(html, { artifacts: [] });
    assert.deepEqual(
      result.images.map((image) => [image.cid, image.contentType]),
      [
        ['chart-1.png', 'image/png'],
        ['image.png', 'image/png'],
      ],
    );
    assert.deepEqual(result.images[1]?.content, png);
    assert.match(result.html, /<img src="cid:chart-1\.png" alt="chart" width="40" height="20"/);
    assert.match(result.html, /<img src="cid:image\.png" alt="d">/);
    assert.match(result.html, /<img src="https:\/\/example\.com\/logo\.png">/);
    assert.match(result.html, /<img src="missing\.png" alt="m">/);
    assert.deepEqual(result.warnings, [
      "image 'missing.png' is not an artifact of this run: left as it is (it will not show)",
    ]);
    // Rendered at twice its size.
    const image = result.images[0]?.content;
    assert.equal(image?.readUInt32BE(16), 80);
    assert.equal(image?.readUInt32BE(20), 40);
  });
});

describe('addresses, sizes and URLs', () => {
  it('splits address lists on commas and semicolons outside quotes and angle brackets', () => {
    assert.deepEqual(addressList('"Lima, Ana" <ana@example.com>, bo@example.com; cy@example.com'), [
      '"Lima, Ana" <ana@example.com>',
      'bo@example.com',
      'cy@example.com',
    ]);
    assert.deepEqual(addressList(['a@example.com', 'b@example.com, c@example.com']), [
      'a@example.com',
      'b@example.com',
      'c@example.com',
    ]);
  });

  it('reads sizes in decimal and binary units', () => {
    assert.equal(parseByteSize('10MB'), 10_000_000);
    assert.equal(parseByteSize('8MiB'), 8 * 1024 * 1024);
    assert.equal(parseByteSize('1.5 kb'), 1500);
    assert.equal(parseByteSize(2048), 2048);
    assert.equal(parseByteSize('ten'), undefined);
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(14_208_311), '14.2 MB');
  });

  it('shows URLs without credentials, query string or fragment', () => {
    assert.equal(
      displayUrl('https://user:pw@hooks.example.com/a/b?token=x#f'),
      'https://hooks.example.com/a/b',
    );
  });
});
