// The generated TypeScript client against a live server (tests/features/orders/test_generated_clients.py):
// node dist/smoke.js BASE_URL EMAIL PASSWORD PRODUCT_NAME. Exits non-zero, saying why, at the first surprise.
// CommonJS (tsconfig.json): the generated client's imports have no file extensions, as bundlers expect.
import { client } from './client/client.gen';
import {
    dynamicBooksCollectionPost,
    issueTokenApiV1AuthTokenPost,
    listProductsApiV1ProductsGet,
    placeOrderApiV1OrdersPost,
    registerApiV1AuthRegisterPost,
} from './client/sdk.gen';
import { type Problem, ProblemType } from './client/types.gen';

function check(condition: boolean, message: string): asserts condition {
    if (!condition) {
        throw new Error(message);
    }
}

// Typed: `problem.type` is a ProblemType, so a misspelt constant fails `tsc`, not a run.
function describe(problem: Problem): string {
    switch (problem.type) {
        case ProblemType.INSUFFICIENT_STOCK:
            return `short of stock: ${problem.available} of ${problem.requested}`;
        case ProblemType.VALIDATION_ERROR:
            return `invalid: ${(problem.errors ?? []).map((error) => error.pointer).join(', ')}`;
        default:
            return `${problem.status} ${problem.title}`;
    }
}

async function main(): Promise<void> {
    const [baseUrl, email, password, productName] = process.argv.slice(2);
    check(!!baseUrl && !!email && !!password && !!productName, 'usage: smoke.js BASE_URL EMAIL PASSWORD PRODUCT');
    client.setConfig({ baseUrl });

    const registered = await registerApiV1AuthRegisterPost({ body: { email, password } });
    check(registered.response.status === 201, `register: ${registered.response.status}`);

    const token = await issueTokenApiV1AuthTokenPost({ body: { username: email, password } });
    check(token.data !== undefined, `log in: ${token.response.status}`);
    check(token.data.token_type === 'bearer', 'log in: a second factor was asked for'); // the type's other case
    const accessToken = token.data.access_token;
    client.setConfig({ baseUrl, auth: () => accessToken });

    const products = await listProductsApiV1ProductsGet({ query: { size: 100 } });
    check(products.data !== undefined, `list products: ${products.response.status}`);
    const product = products.data.items.find((item) => item.name === productName);
    check(product !== undefined, `no product named ${productName}`);

    const placed = await placeOrderApiV1OrdersPost({ body: { items: [{ product_id: product.id, quantity: 1 }] } });
    check(placed.data !== undefined, `place an order: ${placed.response.status}`);
    check(placed.data.items.length === 1, 'the order has one item');

    const tooMany = product.quantity; // one was just ordered: one more than is left
    const refused = await placeOrderApiV1OrdersPost({
        body: { items: [{ product_id: product.id, quantity: tooMany }] },
    });
    check(refused.error !== undefined, `an order beyond the stock was placed: ${refused.response.status}`);
    check(refused.response.status === 409, `beyond the stock: ${refused.response.status}`);
    check(refused.error.type === ProblemType.INSUFFICIENT_STOCK, `beyond the stock: ${describe(refused.error)}`);
    check(refused.error.available === product.quantity - 1, `available: ${refused.error.available}`);
    check(refused.error.requested === tooMany, `requested: ${refused.error.requested}`);

    // The endpoint registered at runtime, before the client was generated.
    const created = await dynamicBooksCollectionPost({ body: { title: 'Dune', pages: 412 } });
    check(created.response.status === 201, `dynamic endpoint: ${created.response.status}`);
    check(created.data?.['title'] === 'Dune', `dynamic endpoint: ${JSON.stringify(created.data)}`);
    const invalid = await dynamicBooksCollectionPost({ body: { title: '' } });
    check(invalid.error?.type === ProblemType.VALIDATION_ERROR, `an empty title: ${invalid.response.status}`);

    console.log(`typescript smoke passed: ${describe(refused.error)}; ${describe(invalid.error)}`);
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
