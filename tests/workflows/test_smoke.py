from tests.conftest import TEST_QUEUE
from tests.journeys import journey_input, record, start, status


async def test_smoke(env, worker, case_id):
    h = await start(env.client, journey_input(case_id), TEST_QUEUE)
    ack = await record(h, "record_received", record_type="pathology")
    assert ack.phase == "intake"
    s = await status(h)
    assert s.phase == "intake"
    print(s)
