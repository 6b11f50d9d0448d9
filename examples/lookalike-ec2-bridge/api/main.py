import os

import psycopg2
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI(title="orders-api")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://orders:orders@localhost:5432/orders")


class Order(BaseModel):
    id: int
    customer: str
    total_cents: int


def connect():
    return psycopg2.connect(DATABASE_URL, connect_timeout=3)


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/orders", response_model=list[Order])
def list_orders(limit: int = 50):
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, customer, total_cents FROM orders ORDER BY id DESC LIMIT %s", (limit,))
        return [Order(id=row[0], customer=row[1], total_cents=row[2]) for row in cur.fetchall()]


@app.get("/orders/{order_id}", response_model=Order)
def get_order(order_id: int):
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, customer, total_cents FROM orders WHERE id = %s", (order_id,))
        row = cur.fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="order not found")
    return Order(id=row[0], customer=row[1], total_cents=row[2])
