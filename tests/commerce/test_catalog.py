"""The workspace's catalog through the API: upsert by retailer id, list in pages, import a
CSV (ours, or a Meta Commerce feed unchanged) or JSON, delete; a bad row names its line."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant

MUG = {
    "name": "Blue mug",
    "description": "Stoneware, 350 ml",
    "price": "12.50",
    "currency": "EUR",
    "image_url": "https://shop.example/mug.jpg",
    "url": "https://shop.example/mug",
}
META_FEED = (
    "id,title,description,availability,condition,price,link,image_link,brand\n"
    "MUG-1,Blue mug,Stoneware,in stock,new,12.50 EUR,https://shop.example/mug,"
    "https://shop.example/mug.jpg,Acme\n"
    "TEA-7,Green tea,,out of stock,new,4.00 EUR,https://shop.example/tea,,Acme\n"
)


async def _skus(client: httpx.AsyncClient, **params: str) -> list[str]:
    response = await client.get("/api/v1/commerce/products", params=params)
    assert response.status_code == 200, response.text
    return [p["retailer_id"] for p in response.json()["products"]]


async def test_a_product_is_created_then_replaced_by_its_retailer_id(tenant: Tenant) -> None:
    created = await tenant.client.put("/api/v1/commerce/products/MUG-1", json=MUG)
    assert created.status_code == 200, created.text
    assert created.json() | {"id": "", "updated_at": ""} == {
        "id": "",
        "retailer_id": "MUG-1",
        **MUG,
        "price": "12.5",
        "availability": "in_stock",
        "updated_at": "",
    }
    again = await tenant.client.put(
        "/api/v1/commerce/products/MUG-1", json=MUG | {"price": "9.90", "availability": "preorder"}
    )
    assert (again.json()["id"], again.json()["price"]) == (created.json()["id"], "9.9")
    got = await tenant.client.get("/api/v1/commerce/products/MUG-1")
    assert got.json()["availability"] == "preorder"


async def test_many_at_once_say_how_many_were_new(tenant: Tenant) -> None:
    first = {"retailer_id": "MUG-1", **MUG}
    body = {"products": [first, first | {"retailer_id": "TEA-7", "name": "Green tea"}]}
    answer = await tenant.client.post("/api/v1/commerce/products", json=body)
    assert answer.json() == {"created": 2, "updated": 0}
    answer = await tenant.client.post("/api/v1/commerce/products", json=body)
    assert answer.json() == {"created": 0, "updated": 2}
    assert await _skus(tenant.client) == ["MUG-1", "TEA-7"]


async def test_a_meta_commerce_feed_imports_unchanged(tenant: Tenant) -> None:
    answer = await tenant.client.post(
        "/api/v1/commerce/products/import",
        content=META_FEED.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert answer.json() == {"created": 2, "updated": 0}, answer.text
    tea = (await tenant.client.get("/api/v1/commerce/products/TEA-7")).json()
    assert (tea["price"], tea["currency"], tea["availability"]) == ("4", "EUR", "out_of_stock")
    mug = (await tenant.client.get("/api/v1/commerce/products/MUG-1")).json()
    assert mug["image_url"] == "https://shop.example/mug.jpg"
    assert await _skus(tenant.client, availability="in_stock") == ["MUG-1"]


async def test_a_json_file_imports_too(tenant: Tenant) -> None:
    answer = await tenant.client.post(
        "/api/v1/commerce/products/import",
        json={"products": [{"retailer_id": "MUG-1", **MUG}]},
    )
    assert answer.json() == {"created": 1, "updated": 0}, answer.text


async def test_one_bad_row_names_its_line_and_imports_nothing(tenant: Tenant) -> None:
    feed = META_FEED + "CUP-2,Cup,,in stock,new,cheap EUR,https://shop.example/cup,,Acme\n"
    answer = await tenant.client.post(
        "/api/v1/commerce/products/import",
        content=feed.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 422
    assert answer.json()["where"] == "line 4"
    assert "price" in answer.json()["message"]
    assert await _skus(tenant.client) == []
    no_name = await tenant.client.post(
        "/api/v1/commerce/products/import",
        content=b"sku,price\nMUG-1,3\n",
        headers={"Content-Type": "text/csv"},
    )
    assert (no_name.status_code, no_name.json()["where"]) == (422, "line 1")


async def test_pages_follow_the_retailer_id(tenant: Tenant) -> None:
    products = [{"retailer_id": f"SKU-{i:02d}", **MUG} for i in range(5)]
    await tenant.client.post("/api/v1/commerce/products", json={"products": products})
    page = (await tenant.client.get("/api/v1/commerce/products", params={"limit": 2})).json()
    assert [p["retailer_id"] for p in page["products"]] == ["SKU-00", "SKU-01"]
    rest = await _skus(tenant.client, after=page["next_cursor"])
    assert rest == ["SKU-02", "SKU-03", "SKU-04"]


async def test_a_deleted_product_is_gone(tenant: Tenant) -> None:
    await tenant.client.put("/api/v1/commerce/products/MUG-1", json=MUG)
    assert (await tenant.client.delete("/api/v1/commerce/products/MUG-1")).status_code == 204
    assert (await tenant.client.get("/api/v1/commerce/products/MUG-1")).status_code == 404
    assert (await tenant.client.delete("/api/v1/commerce/products/MUG-1")).status_code == 404


async def test_prices_and_links_are_checked(tenant: Tenant) -> None:
    for bad in ({"price": "-1"}, {"currency": "euro"}, {"url": "javascript:alert(1)"}):
        answer = await tenant.client.put("/api/v1/commerce/products/MUG-1", json=MUG | bad)
        assert answer.status_code == 422, bad
