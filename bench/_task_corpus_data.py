"""Templates and vocabulary for ``_task_corpus``: agents, tools, and how people phrase each task.

Template syntax: ``{slot}`` is filled from the conversation's slot values; ``{a|b|c}`` picks one
alternative at random (an empty alternative makes the part optional). Templates were written as
people write to agents (terse, chatty, formal, multi-sentence), not against any clusterer.
"""

from __future__ import annotations

import re
from typing import Any


def _sections(text: str) -> dict[str, list[str]]:
    """Templates written one a line under ``[name]`` headers; a line starting with two spaces
    continues the previous one, `` || `` separates short ones on a line, ``\\n`` is a line
    break and ``<empty>`` an empty template."""
    out: dict[str, list[str]] = {}
    items: list[str] = []
    for line in text.strip("\n").split("\n"):
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            items = out.setdefault(line[1:-1], [])
        elif line.startswith("  "):
            items[-1] += line[2:]
        else:
            items.extend("" if t == "<empty>" else t for t in line.split(" || "))
    return {k: [t.replace("\\n", "\n") for t in v] for k, v in out.items()}


_TYPES: dict[str, dict[str, Any]] = {
    "": {"type": "string"}, "int": {"type": "integer", "minimum": 1}, "number": {"type": "number"},
    "date": {"type": "string", "format": "date"}, "email": {"type": "string", "format": "email"},
    "datetime": {"type": "string", "format": "date-time"},
    "list": {"type": "array", "items": {"type": "string"}}}


def _tools(text: str) -> dict[str, dict[str, Any]]:
    """OpenAI function specs from ``name(arg*, arg:type, arg:a/b/c): description`` lines
    (``*`` = required; a type with slashes is an enum of strings; no type = string)."""
    out = {}
    for line in _sections("[tools]\n" + text)["tools"]:
        match = re.fullmatch(r"(\w+)\((.*)\): (.*)", line)
        assert match is not None, line
        name, args, description = match.groups()
        props: dict[str, Any] = {}
        for arg in args.split(", "):
            key, _, kind = arg.partition(":")
            props[key.rstrip("*")] = (_TYPES[kind] if "/" not in kind
                                      else {"type": "string", "enum": kind.split("/")})
        required = [a.partition(":")[0].rstrip("*") for a in args.split(", ") if "*" in a]
        out[name] = {"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": props, "required": required}}}
    return out


TOOLS = _tools(r"""
search_flights(origin*, destination*, departure_date*:date, return_date:date, passengers:int,
   cabin:economy/premium/business/first): Search available flights between two airports on a date.
get_booking(booking_ref*, last_name): Look up a booking by its reference.
change_booking(booking_ref*, new_departure_date:date, new_flight_number, seat, cabin,
   passenger_name): Change the date, flight, seat, cabin or passenger names of a booking.
cancel_booking(booking_ref*, reason): Cancel a booking and start the refund.
get_weather(location*, date:date, units:metric/imperial): Current weather or the forecast for a
   place and date.
lookup_order(order_id*, email:email): Find an order by id or by the customer's email.
issue_refund(order_id*, amount:number, reason*): Refund all or part of an order.
create_ticket(summary*, description, category, priority*:low/medium/high/urgent): Open a ticket for
   a human team.
search_kb(query*, limit:int): Search the help-centre knowledge base.
send_email(to*:list, subject*, body*): Send an email on the user's behalf.
get_leave_balance(employee_id*): Remaining leave days of an employee by leave type.
submit_leave_request(employee_id*, start_date*:date, end_date*:date,
   leave_type*:annual/sick/parental/unpaid, note): Submit a leave request for approval.
search_policy(query*): Search the employee handbook and HR policies.
reset_password(username*, system*, method:password/mfa/unlock): Reset a user's password or MFA on
   a system.
find_free_slots(attendees*:list, duration_minutes*:int, earliest:date, latest:date): Find times
   when all attendees are free.
create_event(title*, start*:datetime, end*:datetime, attendees:list, location): Create a calendar
   event and invite the attendees.
""")
# Each agent: its model, the tools offered on every call, and the tasks it serves with their
# relative volumes (weather_lookup is served by two agents with different prompts).
AGENTS: dict[str, dict[str, Any]] = {
    "travel_assistant": {
        "model": "gpt-4o",
        "tasks": {"search_flights": 16, "change_booking": 6, "weather_lookup": 3},
        "tools": ["search_flights", "get_booking", "change_booking", "cancel_booking",
                  "get_weather"]},
    "shop_support": {
        "model": "gpt-4o-mini", "tasks": {"order_status": 14, "refund_request": 6},
        "tools": ["lookup_order", "issue_refund", "create_ticket", "search_kb", "send_email"]},
    "ticket_triage": {
        "model": "gpt-4o-mini", "tasks": {"ticket_summary": 9, "ticket_classify": 12}, "tools": []},
    "hr_helpdesk": {
        "model": "gpt-4o", "tasks": {"leave_request": 4, "policy_question": 8},
        "tools": ["get_leave_balance", "submit_leave_request", "search_policy", "send_email"]},
    "it_helpdesk": {
        "model": "gpt-4o-mini", "tasks": {"password_reset": 7, "it_ticket": 4},
        "tools": ["reset_password", "create_ticket", "search_kb"]},
    "calendar_assistant": {
        "model": "gpt-4o", "tasks": {"schedule_meeting": 9, "weather_lookup": 3},
        "tools": ["find_free_slots", "create_event", "send_email", "get_weather"]},
}
# Two versions of each agent's system prompt (a prompt edit mid-log, as real agents have), with
# variable parts filled per conversation.
PROMPTS = _sections(r"""
[travel_assistant]
You are Skyward Travel's booking assistant. Today is {weekday}, {today}. You are helping {user_name}
   (loyalty id {loyalty_id}, tier {tier}). Use the tools to search flights and manage bookings;
   never invent prices, times or availability. Dates go to tools in ISO 8601. Ask for the origin,
   destination and date when they are missing. Changes to a booking need its six-character
   reference.
# Role\nTravel agent for Skyward Travel (session {session_id}).\n# Context\n- Date: {today}
   ({tz})\n- Customer: {user_name}, {tier} member since {member_since}\n- Home airport:
   {home_airport}\n# Rules\n1. Call exactly one tool per turn.\n2. Quote fares only from search
   results.\n3. Before changing or cancelling, confirm the booking reference.\n4. Weather questions:
   use get_weather for the city and date.
[shop_support]
You are the customer support assistant of {shop}. Current date: {today}. The customer is {user_name}
   ({user_email}), customer id {customer_id}. Look orders up before answering questions about them.
   Refunds over {refund_limit} {currency} or for orders older than 30 days need a ticket for the
   refunds team instead.
{shop} support bot v{version}. Today: {today}. Signed-in customer: {user_name} <{user_email}> (id
   {customer_id}, {n_orders} orders). Tools: orders, refunds, tickets, help centre, email. Keep
   replies under 120 words and end by asking if there is anything else.
[ticket_triage]
You assist the support operations team of {shop}. Tickets arrive from the helpdesk queue (batch
   {batch_id}, {today}). Follow the instruction in the user message exactly. Do not add greetings.
   Do not invent order numbers or facts that are not in the ticket.
Support-ops copilot for {shop}. Run date {today}, operator {user_name}. You get one customer ticket
   and one instruction per message. Be factual and concise.
[hr_helpdesk]
You are the HR helpdesk assistant at {company}. Today is {today}. The employee is {user_name},
   employee id {employee_id}, based in {office}, reporting to {manager}. Answer policy questions
   only from search_policy results and cite the policy name. Leave requests need start date, end
   date and leave type; check the balance when unsure.
HR assistant ({company}, {office} office). Date {today}. Employee: {user_name} ({employee_id}),
   manager {manager}. Be discreet; escalate sensitive matters to a human HR partner.
[it_helpdesk]
You are the IT service desk assistant for {company}. Today is {today}. The user is {user_name}
   ({username}, {department}), device {device_id}. Open a ticket for hardware faults, outages and
   access requests; search the knowledge base first for how-to questions.
IT desk bot | {company} | {today} | user {username} | dept {department} | asset {device_id}. Resets
   only for the signed-in user. Priority: urgent if a whole team is blocked, high if one person
   cannot work, else medium or low.
[calendar_assistant]
You are {user_name}'s executive assistant at {company}. It is {weekday} {today}, timezone {tz}.
   Working hours 09:00-18:00. Protect focus time on Friday mornings. Find slots before creating
   events and include a short agenda in invitations.
Calendar assistant for {user_name} ({user_email}). Now: {today} {time} {tz}. Default meeting length
   30 minutes; use the office in {city} unless told otherwise.
""")
# Phrases: how people open and close messages, how operators ask for a summary or a
# category, and what summaries and policy answers say.
PHRASES = _sections(r"""
[greeting]
Hi || Hello || Hey || hi there || Good morning || Good afternoon || Hello, || Hi team,
Dear support, || hey! || Hi, hope you're well. || Morning! || Yo || Hello there. || Hi again
[closing]
Thanks! || thanks || thx || Thank you in advance. || Cheers || ty || Best regards, {first}
Many thanks, {first} || Appreciate it || asap please || Thanks a lot!! || Kind regards
thank you so much || Cheers, {first}
[aside]
Sorry if this is the wrong place to ask. || This is kind of urgent.
I'm on my phone so excuse the typos. || I already tried calling but nobody answered.
First time using this, hope it works. || Quick one: || Sorry for the long message.
My colleague said you could help.
[mood]
<empty> || This is really frustrating. || I've been a customer for {n} years.
Please help as soon as possible. || Thanks for your help. || I have written twice already!
No rush.
[summary_ask]
Summarise this ticket in {two|three|2-3} sentences for the next agent:
Write a short handover summary of the following customer ticket. || TL;DR this please: || Summarize:
Summarize the customer's issue and what they want. Keep it under {40|60|80} words.
Please give me a brief summary of the ticket below, including any order numbers.
Condense the following ticket into a note for the CRM.
Give me a one-paragraph summary of this customer's message.
Can you sum up what this customer is asking for?
[classify_ask]
Classify the ticket below into exactly one category: billing, shipping, account_access,
   product_defect, cancellation, feature_request. Answer with the category name only.
Which queue should this go to? Options: Billing / Shipping / Account access / Product defect /
   Cancellation / Feature request
Categorise this ticket. Return JSON with keys category and priority (low, medium, high).
Labels: billing | shipping | account_access | product_defect | cancellation | feature_request\nPick
   one for this ticket:
Tag this ticket with the right category and a priority. || What category does this ticket belong to?
Route this ticket. Reply with one word: the category. || classify:
[policy_answer]
employees may work remotely up to three days a week with manager approval.
expenses under 50 EUR need no receipt approval; above that attach a receipt.
up to five unused days carry over to the next year.
new employees accrue 25 days of annual leave per year, pro rata.
this needs written approval from your manager and HR.
the company reimburses up to 40 EUR a month.
[clarify:search_flights]
Happy to help. Which date would you like to travel, and from which airport?
Sure! Is that one way or a return trip?
[clarify:change_booking]
Could you give me your six-character booking reference?
Of course. What is the booking reference and the surname on it?
[clarify:order_status]
Could you share your order number? It starts with a # in your confirmation email.
[clarify:refund_request]
I'm sorry to hear that. What is the order number, please?
Could you tell me which order this is about?
[clarify:leave_request]
Which type of leave is this: annual, sick, parental or unpaid?
[clarify:password_reset]
Before I reset anything, can you confirm your username?
For security, please confirm the username you sign in with.
""")
USER = _sections(r"""
[search_flights]
{I need|I'm looking for|Can you find|Find me} {a flight|flights} from {origin} to {dest} {date}
what flights are there {origin} to {dest} {date} || {origin} -> {dest}, {date}, {pax} people
My {wife|husband|partner|colleague} and I want to fly to {dest} {date}. We're leaving from {origin}.
   {Anything in|Preferably} {cabin}?
Could you please check availability for {pax} passengers departing {origin} {date}, destination
   {dest}, returning {ret}?
cheapest way to get to {dest} from {origin} {date}?
I have a {conference|wedding|job interview|client meeting} in {dest} {date}. What are my options out
   of {origin}?
Search {cabin} fares {origin}-{dest} {date}, back {ret}.
Is there a direct flight from {origin} to {dest} {date}? {Morning would be best.|I'd rather not
   arrive late.|}
need to get to {dest} by {date} from {origin}, {pax} of us
Show me {morning|evening|early|late|} flights {origin} to {dest} leaving {date}
Planning a trip to {dest} with the kids. Departing {origin} {date}, coming back {ret}. What's
   available?
Any seats left {origin} to {dest} {date}? {cabin} if possible. || Flights to {dest}? Leaving {date}
   from {origin}
I'd like to fly to {dest} {date}. What do you have from {origin}?
I would like to travel from {origin} to {dest} {date} and return {ret}. Please list the available
   options in {cabin}.
round trip {origin} {dest} {date} - {ret}
My manager asked me to be in {dest} {date}. Can you look up flights from {origin}?
how much is a flight to {dest} {date}? flying out of {origin}
Compare prices for {origin} to {dest} {date} versus the day after, please.
We're {pax} people going to {dest} for a {stag do|family reunion|team offsite|holiday}. Fly out
   {date}, back {ret}, from {origin}.
get me out of {origin} to {dest} {date}, whatever's cheapest
[change_booking]
I need to change my booking {ref} to {date}
Can I move my flight ({ref}) to {date}? {Something came up at work.|My meeting got moved.|Family
   emergency.|}
please rebook {ref} onto {a later|an earlier} flight {date}
Booking reference {ref}, surname {last}. I'd like to switch to a later flight on the same day.
I'm booked on {flight} but need to travel {date} instead. Ref {ref}.
change date on {ref} to {date} || Could you change the seat on my reservation {ref} to {seat}?
my conf number is {ref}, can i push the return to {date} || Can I upgrade booking {ref} to {cabin}?
I booked the wrong date!! ref {ref}, should be {date} || {ref} - move to {date} pls
Please amend reservation {ref}: new departure date {date}, same route.
The name on booking {ref} is misspelled, it should be {name}. Can you fix it?
I want to fly back earlier, {date} instead. Booking {ref}, last name {last}.
Our plans changed. Can the {origin} to {dest} trip on {ref} go {date} instead?
Hi, I have a flight to {dest} ({ref}) and I need to postpone it to {date}. Is there a change fee?
Can you put my {partner|colleague|son|daughter} {name} on the same booking as me? Reference {ref}.
[weather_lookup]
What's the weather going to be like in {city} {date}? || will it rain in {city} {date}
Do I need an umbrella in {city} {date}? || Weather forecast for {city}, {date}, please.
How {cold|warm|hot} is it in {city} right now?
I'm heading to {city} {date}. What should I pack, weather-wise? || temperature in {city} {date}?
Is it going to snow in {city} {date}? {We're driving.|Trying to plan an outdoor lunch.|}
check the weather for my {trip|offsite|meeting|visit} in {city} {date}
Any chance of storms in {city} {date}? {My flight lands in the evening.|} || {city} weather {date}
Should I bring a jacket to {city} {date} or will it be warm?
[order_status]
Where is my order {order}?
hi i ordered {a|the} {product} {odate} and it still hasnt arrived. order number {order}
Can you tell me the status of order #{order}? || When will my {product} be delivered? Order {order}.
My package was supposed to arrive {odate} but the tracking hasn't updated in days. Order {order},
   email {email}.
Has order {order} shipped yet? || tracking for {order} pls
order {order} says delivered but nothing here??
I'm still waiting on my {product}. It's been over a week. Can you check what's going on? #{order}
Could you please confirm the expected delivery date for order {order}?
Is my order on its way? I used {email} to order {a|the} {product}.
Need an ETA on {order}, it's a gift for {a birthday|an anniversary|Christmas}.
I placed an order {odate} ({order}). Has it left the warehouse?
which courier is delivering {order}? I won't be home {date}
The {product} I ordered {odate} is not here yet. Order {order}. What's going on? || status {order}
[refund_request]
I want a refund for order {order}. The {product} {defect}.
How do I return my {product} and get my money back? Order {order}
please refund {amount} for {order}, i was charged twice
The {product} I received {defect}. I'd like a full refund, not a replacement. Order #{order}.
Can I get my money back? The {product} stopped working after {n} days.
I returned the {product} {odate} but haven't received my refund yet. Order {order}.
{refund pls. {order}. wrong item|refund {order} please, wrong size}
I was overcharged by {amount} on order {order}, please credit my card.
I'd like to cancel order {order} and get refunded, it hasn't shipped yet.
This is the second time my {product} {defect}. I want my {amount} back.
The {product} from order {order} {defect}. What are my options for a refund?
Please reverse the charge for {order}. I never received it and I'm done waiting.
I ordered {a|the} {product} {odate} ({order}) and it {defect}. Money back please.
Partial refund? The {product} arrived {scratched|with a dent|without the charger}. {order}
[leave_request]
I'd like to take {days} days off from {start} to {end}.
Can you book annual leave for me {start} to {end}?
need a sick day {start}, {feeling awful|my kid is sick|migraine|}
Please submit a vacation request: {start} through {end}.
how many holiday days do i have left? want to take {start} off
I'm getting married {start}! Can I request leave from {start} to {end}?
Request parental leave starting {start}, please.
I need to take unpaid leave for {days} days starting {start} for personal reasons.
Book me out {start} to {end}, I'm going to {city}. || Put in a request for {start} off please
Could you log a day off for {start}? {Dentist in the morning.|Moving house.|}
Do I have enough annual leave left to take {start} to {end}?
I'd like to use {days} of my vacation days in {month}, {start} to {end}.
off sick today, {cough and fever|stomach bug|back pain}. can you log it
[policy_question]
What's the policy on working from home? || How many days of parental leave do we get?
Can I expense {expense}? It was {amount}.
Is there a budget for {training|conferences|home office equipment|books}?
what happens to unused vacation days at the end of the year || Do we get {holiday} off?
Am I allowed to work from {country} for {n} weeks? || How does the referral bonus work?
What's the notice period if I want to resign? || Does the company cover gym memberships?
What is the dress code for client meetings? || What's the per diem for travel to {city}?
How many annual leave days does a new employee get in the first year?
is overtime paid or do we get time off in lieu?
What is the process for reporting a conflict of interest?
Can I carry over leave days to next year? How many?
Who approves {expense} purchases and is there a limit? || are we allowed to have a side job?
[password_reset]
I forgot my {system} password || locked out of {system} again, can you reset it? username {username}
Please reset the password for {username} on {system}.
my {system} account is locked after too many attempts || Can't log into {system}, password expired.
New phone, lost my authenticator. Need an MFA reset for {system}. || pw reset {system} {username}
I've been locked out of {system} since this morning. My user is {username}.
{system} won't accept my password {since the update|anymore|today}, can you reset it?
Hi, can you unlock my {system} account? I typed the wrong password a few times.
I need a temporary password for {system}, I'm {username}.
2FA codes aren't arriving for {system}. Can you reset my MFA?
[it_ticket]
My laptop {won't turn on|keeps overheating|has a flickering screen|battery lasts an hour}.
The printer on floor {n} is jammed again. || {system} is really slow today, is there an outage?
I need {software} installed on my machine. || VPN keeps disconnecting when I work from home.
Can I get a second monitor for my desk? || Outlook crashes whenever I open an attachment.
My headset isn't recognised by {Zoom|Teams} anymore.
Requesting access to the {shared drive|Jira project|GitHub org|finance folder} for my new project.
the wifi in meeting room {room} is down || {system} shows a 500 error for the {department} team
My keyboard is missing keys, can I get a replacement?
I spilled coffee on my laptop. It still works but the trackpad is weird.
Can you set up {software} for our new hire {name} starting {date}?
[schedule_meeting]
Set up a {duration} meeting with {names} {date}.
Find a time {date} when {names} and I are all free for {duration}.
book a call with {name} {date} at {time} || Can you schedule our {topic} with {names}?
Put {duration} on my calendar with {name} to discuss the {topic}, sometime {date}.
When is everyone on the {team} team free {date}? || Please arrange a lunch with {name} {date}.
I need a slot with {names} before {date} to go over the {topic}.
Schedule a {topic} {date}, invite {names}.
get me {duration} with {name} {date}, {any time works|afternoon preferred|not before 10}
Could you find a {duration} window {date} for a {topic} with {names}?
{topic} with {names} {date}, {duration}, {in the office|on Zoom|in room {room}}
""")
# Customer tickets for ticket_triage: (category, sentences); a ticket takes 1-3 of them.
TICKETS = _sections(r"""
[billing]
I was charged twice for order {order}. || My invoice shows {amount} but the checkout said less.
Why is there a {amount} fee on my statement? || Please send me a VAT invoice for {order}.
My card was debited but the order was cancelled.
[shipping]
Order {order} has not arrived yet. || The tracking for {order} has not moved in a week.
The courier left my parcel at the wrong address. || Can I change the delivery address for {order}?
It was due {odate} and nothing came.
[account_access]
I cannot log in to my account. || The password reset email never arrives.
My account was locked after I changed my email to {email}.
Someone else may have access to my account.
[product_defect]
The {product} I received {defect}. || My {product} stopped working after {n} days.
The {product} makes a loud noise when charging. || Half of the parts for the {product} are missing.
[cancellation]
Please cancel order {order}. || I want to cancel my subscription before it renews {date}.
Cancel my membership, I'm moving abroad.
I ordered the wrong {product} by mistake, please cancel it.
[feature_request]
It would be great if the app let me save my {product} settings. || Please add dark mode.
Can you support paying with {wallet}? || I'd love to get an email when {product} is back in stock.
""")
AIRPORTS = ["London", "Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Amsterdam", "Dublin",
            "New York", "Boston", "Chicago", "San Francisco", "Los Angeles", "Seattle", "Toronto",
            "Tokyo", "Singapore", "Dubai", "Sydney", "Vienna", "Prague", "Copenhagen", "Oslo",
            "Athens", "Istanbul", "Barcelona", "Munich", "Zurich", "Mexico City", "Miami", "LHR",
            "JFK", "CDG", "SFO", "FRA", "AMS", "BCN", "ORD"]
CITIES = ["Lisbon", "Berlin", "Oslo", "Kyoto", "Lima", "Nairobi", "Edinburgh", "Chicago",
          "Barcelona", "Reykjavik", "Denver", "Austin", "Melbourne", "Vancouver", "Munich",
          "Seoul", "Cape Town", "Porto", "Krakow", "Dublin", "Milan", "Boston", "Hanoi"]
PRODUCTS = ["wireless headphones", "standing desk", "coffee machine", "phone case",
            "running shoes", "air fryer", "yoga mat", "smart watch", "laptop stand", "jacket",
            "blender", "desk lamp", "backpack", "electric toothbrush", "Bluetooth speaker",
            "office chair", "kettle", "vacuum cleaner", "gaming mouse", "baby monitor"]
DEFECTS = ["arrived broken", "doesn't work", "is the wrong size", "was not as described",
           "arrived with a cracked screen", "is missing parts", "won't charge", "smells burnt"]
SYSTEMS = ["Okta", "Salesforce", "Workday", "Jira", "VPN", "Outlook", "the HR portal", "SAP",
           "GitHub", "Slack", "Windows", "the expenses app"]
SOFTWARE = ["Docker Desktop", "Visual Studio Code", "Tableau", "Adobe Acrobat", "Python 3.12",
            "Figma", "Postman", "R Studio"]
EXPENSES = ["a new laptop bag", "my taxi from the airport", "a team lunch", "a standing desk",
            "noise-cancelling headphones", "a conference ticket", "my internet bill",
            "a client dinner"]
HOLIDAYS = ["Juneteenth", "Boxing Day", "Good Friday", "Easter Monday", "Christmas Eve",
            "the day after Thanksgiving", "May Day"]
COUNTRIES = ["Spain", "Portugal", "Italy", "Mexico", "Canada", "Thailand", "Greece"]
TOPICS = ["weekly sync", "quarterly review", "1:1", "project kickoff", "budget review",
          "design review", "hiring debrief", "roadmap planning", "retro", "vendor demo"]
TEAMS = ["design", "data", "platform", "sales", "marketing", "finance", "legal"]
DEPARTMENTS = ["Finance", "Engineering", "Sales", "Marketing", "Legal", "Operations", "People"]
SHOPS = ["Northwind Goods", "Brightcart", "Maple & Co", "Urbanhaus"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics"]
WALLETS = ["Apple Pay", "PayPal", "Klarna", "Google Pay"]
SEATS = ["an aisle seat", "a window seat", "14C", "22A", "the exit row", "seat 3F"]
CABINS = ["economy", "premium economy", "business", "first class"]
TIERS = ["Blue", "Silver", "Gold", "Platinum"]
TIMEZONES = ["Europe/London", "Europe/Berlin", "America/New_York", "Asia/Singapore"]
WEATHER = ["sunny", "partly cloudy", "overcast", "light rain", "heavy rain", "snow showers",
           "thunderstorms", "foggy", "windy"]
# What the agent answers once the tools have run (filled from the slots and the tool results).
FINAL = _sections(r"""
[search_flights]
I found {k} flights from {origin_code} to {dest_code} on {date_iso}. The cheapest is {airline}
   {flight} at {dep_time} for {price} {currency}. Would you like me to hold it?
Here are the options for {date_iso}:\n{flight_list}\nShall I book one of these?
{k} options. Best value: {airline} at {dep_time}, {price} {currency} ({stops}).
[change_booking]
Done: booking {ref} is now on {flight} departing {date_iso} at {dep_time}. The change fee was {fee}
   {currency}.
Your booking {ref} has been updated. {change_note} A new e-ticket is on its way to your email.
All set, {first}. {change_note} Fare difference: {fee} {currency}.
[weather_lookup]
{city} on {date_iso}: {weather}, high {high}°C, low {low}°C.
Expect {weather} in {city}, around {high}°C. {pack_tip}
The forecast for {city} is {weather} with a {rain}% chance of rain. {pack_tip}
[order_status]
Your order {order} ({product}) is {status}. {eta_note}
I checked order {order}: it is {status} with {carrier}. {eta_note}
Order {order} is {status}. Tracking number {tracking}. {eta_note}
[refund_request]
I've issued a refund of {amount_num} {currency} for order {order}. It should reach your card in 3-5
   business days.
Sorry about the {product}. A refund of {amount_num} {currency} is on its way (reference
   {refund_id}).
I've passed your refund for {order} to our refunds team (ticket {ticket_id}); they reply within 48
   hours.
[leave_request]
Your {leave_type} leave from {start_iso} to {end_iso} has been submitted to {manager} for approval
   (request {request_id}).
Submitted. You will have {left} annual leave days left after this request.
Done. {manager} has been asked to approve {start_iso} to {end_iso}.
[policy_question]
According to the {policy} ({section}), {answer} || {answer} (source: {policy}, {section})
Short answer: {answer} See {policy}, {section} for details.
[password_reset]
I've reset your {system} {method}. Check your phone for a temporary code; it expires in 15 minutes.
Your {system} account ({username}) is unlocked and a reset link was sent to your work email.
Done. Next time you sign in to {system} you will be asked to set a new password.
[it_ticket]
I've opened ticket {ticket_id} ({priority} priority) with the service desk. {eta_note}
Ticket {ticket_id} is logged. A technician will contact you {eta}.
I found a help article that may solve it: "{kb_title}". If not, reply and I'll open a ticket.
[schedule_meeting]
Booked: "{title}" on {slot} with {attendees_text}. Invitations are out.
{attendees_text} are all free {slot}. I've put the {title} in the calendar.
The earliest common slot is {slot}. Want me to book it?
""")
# What a ticket summary says, by category: the issue, and what the customer wants.
SUMMARY_BITS: dict[str, tuple[list[str], list[str]]] = {
    "billing": (["was charged incorrectly", "sees an unexpected fee", "was double charged"],
                ["a correction of the charge", "a refund of the difference", "an invoice"]),
    "shipping": (["has not received their parcel", "reports a delayed delivery",
                  "had a parcel delivered to the wrong address"],
                 ["an update on delivery", "the parcel re-sent", "a new delivery date"]),
    "account_access": (["cannot sign in", "is locked out of their account",
                        "suspects someone else accessed the account"],
                       ["access restored", "a password reset", "the account secured"]),
    "product_defect": (["received a faulty item", "reports a product that stopped working",
                        "received an item with missing parts"],
                       ["a replacement", "a refund", "a repair"]),
    "cancellation": (["wants to cancel", "asks to cancel a subscription", "ordered by mistake"],
                     ["confirmation of the cancellation", "no further charges", "a refund"]),
    "feature_request": (["suggests a new feature", "asks for a product improvement"],
                        ["the idea passed to the product team", "to be told if it is planned"]),
}
POLICIES = ["Remote Work Policy", "Leave Policy", "Travel & Expenses Policy", "Code of Conduct",
            "Benefits Guide", "Employee Handbook"]
AIRLINES = ["Skyward", "Lufthansa", "KLM", "Iberia", "United", "Delta", "TAP", "easyJet"]
CARRIERS = ["DHL", "UPS", "FedEx", "Royal Mail", "DPD"]
ORDER_STATUSES = ["in transit", "out for delivery", "processing at the warehouse",
                  "delivered", "delayed at the depot"]
KB_TITLES = ["Fixing VPN drops on home Wi-Fi", "Pairing headsets with Teams",
             "Requesting software installs", "Printer jams: first steps",
             "Laptop battery health check"]
