"""Sites the schedule tests run at: Vietnam's north, south and mountains, plus a polar, two
southern and two DST sites (Vietnam has no DST, but a bug there would hide only until it did)."""

from schedules.solar import Site

THIEU_LONG = Site(latitude=19.87, longitude=105.71, timezone="Asia/Ho_Chi_Minh", elevation=10)
HA_NOI = Site(latitude=21.0285, longitude=105.8542, timezone="Asia/Ho_Chi_Minh", elevation=15)
TP_HCM = Site(latitude=10.7769, longitude=106.7009, timezone="Asia/Ho_Chi_Minh", elevation=5)
SA_PA = Site(latitude=22.3364, longitude=103.8438, timezone="Asia/Ho_Chi_Minh", elevation=1500)
CA_MAU = Site(latitude=9.1769, longitude=105.1524, timezone="Asia/Ho_Chi_Minh", elevation=2)
TROMSO = Site(latitude=69.65, longitude=18.96, timezone="Europe/Oslo")
HOBART = Site(latitude=-42.8821, longitude=147.3272, timezone="Australia/Hobart")
USHUAIA = Site(latitude=-54.8019, longitude=-68.3030, timezone="America/Argentina/Ushuaia")
BERLIN = Site(latitude=52.52, longitude=13.405, timezone="Europe/Berlin", elevation=34)
NEW_YORK = Site(latitude=40.7128, longitude=-74.0060, timezone="America/New_York")

VIETNAM = {"thieu-long": THIEU_LONG, "ha-noi": HA_NOI, "tp-hcm": TP_HCM, "sa-pa": SA_PA,
           "ca-mau": CA_MAU}
