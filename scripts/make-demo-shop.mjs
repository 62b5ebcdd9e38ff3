// Writes templates/demo/data/shop.sqlite, the small shop database the demo's weekly-sales pipeline
// reads: products, customers, and eight weeks of orders with their items. The data come from a seeded
// generator, so running this again writes the same rows. Usage: node scripts/make-demo-shop.mjs
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const target = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'templates',
  'demo',
  'data',
  'shop.sqlite',
);

/** mulberry32: a tiny deterministic generator, enough for demo data. */
function generator(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = generator(20261116);
const pick = (list) => list[Math.floor(random() * list.length)];

const products = [
  ['Espresso beans 1 kg', 'Coffee', '24.90'],
  ['Filter coffee 500 g', 'Coffee', '9.50'],
  ['Decaf 250 g', 'Coffee', '7.20'],
  ['Green tea 100 g', 'Tea', '6.80'],
  ['Earl Grey 250 g', 'Tea', '8.40'],
  ['Rooibos 250 g', 'Tea', '7.90'],
  ['Hand grinder', 'Equipment', '59.00'],
  ['Pour-over kettle', 'Equipment', '44.50'],
  ['Paper filters (100)', 'Equipment', '4.90'],
  ['Ceramic mug', 'Accessories', '12.00'],
  ['Travel cup', 'Accessories', '18.50'],
  ['Gift voucher 25', 'Vouchers', '25.00'],
];
const cities = ['Berlin', 'Hamburg', 'Munich', 'Cologne', 'Leipzig', 'Freiburg', 'Dresden', 'Bremen'];
const first = [
  'Ana',
  'Ben',
  'Clara',
  'David',
  'Eva',
  'Felix',
  'Greta',
  'Hugo',
  'Ida',
  'Jonas',
  'Lena',
  'Max',
];
const last = ['Albers', 'Brandt', 'Conrad', 'Dietz', 'Engel', 'Fuchs', 'Graf', 'Hahn', 'Koch', 'Lang'];

rmSync(target, { force: true });
const db = new Database(target);
db.exec(`
  CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, unit_price DECIMAL(10,2) NOT NULL);
  CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
  CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                       ordered_at DATETIME NOT NULL, status TEXT NOT NULL CHECK (status IN ('paid', 'cancelled', 'refunded')));
  CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders(id), product_id INTEGER NOT NULL REFERENCES products(id),
                            quantity INTEGER NOT NULL, unit_price DECIMAL(10,2) NOT NULL, PRIMARY KEY (order_id, product_id));
  CREATE INDEX orders_ordered_at ON orders (ordered_at);
`);
db.transaction(() => {
  const product = db.prepare('INSERT INTO products (id, name, category, unit_price) VALUES (?, ?, ?, ?)');
  products.forEach(([name, category, price], index) => product.run(index + 1, name, category, price));
  const customer = db.prepare('INSERT INTO customers (id, name, city) VALUES (?, ?, ?)');
  for (let id = 1; id <= 80; id += 1) customer.run(id, `${pick(first)} ${pick(last)}`, pick(cities));
  const order = db.prepare('INSERT INTO orders (id, customer_id, ordered_at, status) VALUES (?, ?, ?, ?)');
  const item = db.prepare(
    'INSERT INTO order_items (order_id, product_id, quantity, unit_price) VALUES (?, ?, ?, ?)',
  );
  // Eight weeks up to Sunday 2026-11-22, a few more orders each week and more at weekends.
  const start = Date.UTC(2026, 8, 28);
  let id = 0;
  for (let day = 0; day < 56; day += 1) {
    const weekday = (day + 1) % 7; // 0 = Sunday; day 0 is a Monday
    const count =
      6 + Math.floor(day / 7) + (weekday === 0 || weekday === 6 ? 4 : 0) + Math.floor(random() * 5);
    for (let n = 0; n < count; n += 1) {
      id += 1;
      const at = new Date(start + day * 86_400_000 + Math.floor((7 + random() * 14) * 3_600_000));
      const status = random() < 0.06 ? 'cancelled' : random() < 0.03 ? 'refunded' : 'paid';
      order.run(id, 1 + Math.floor(random() * 80), at.toISOString().slice(0, 19).replace('T', ' '), status);
      const lines = new Set();
      for (let k = 1 + Math.floor(random() * 3); k > 0; k -= 1)
        lines.add(1 + Math.floor(random() * products.length));
      for (const productId of lines) {
        item.run(id, productId, 1 + Math.floor(random() * 3), products[productId - 1][2]);
      }
    }
  }
})();
db.pragma('journal_mode = DELETE');
db.exec('VACUUM');
db.close();
console.log(`wrote ${target}`);
