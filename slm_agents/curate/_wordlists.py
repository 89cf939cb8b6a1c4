"""Built-in word lists the pseudonymiser draws surrogates from (no Faker needed at run time)."""

from __future__ import annotations

__all__ = ["CITIES", "FIRST_NAMES", "LAST_NAMES", "STREET_KEEP", "STREET_WORDS", "US_STATES"]

FIRST_NAMES = (
    "Aaliyah", "Abel", "Ada", "Adrian", "Aisha", "Alba", "Alejandro", "Alice", "Amara", "Amir",
    "Ana", "Anders", "Andrea", "Anika", "Arjun", "Astrid", "Aurora", "Bea", "Benedict", "Bianca",
    "Bruno", "Camila", "Carmen", "Cecil", "Chiara", "Clara", "Conor", "Dalia", "Damien", "Daria",
    "Dev", "Diego", "Dina", "Elena", "Elif", "Elliot", "Emeka", "Emil", "Esme", "Ezra", "Farah",
    "Felix", "Freya", "Gabriel", "Greta", "Hana", "Hugo", "Ida", "Ines", "Ingrid", "Isaac",
    "Ivan", "Jada", "Jonas", "Jun", "Kai", "Kamal", "Keira", "Kenji", "Lara", "Leila", "Leon",
    "Lina", "Luca", "Lucia", "Mads", "Maia", "Malik", "Marta", "Mateo", "Mei", "Mila", "Milan",
    "Nadia", "Nia", "Niko", "Nora", "Olga", "Omar", "Oscar", "Paloma", "Pavel", "Priya", "Quinn",
    "Rafael", "Rania", "Rhea", "Rosa", "Rui", "Sami", "Sana", "Selma", "Soren", "Talia", "Teo",
    "Thea", "Tomas", "Uma", "Vera", "Viktor", "Wren", "Yara", "Yusuf", "Zara", "Zoltan",
)

LAST_NAMES = (
    "Abara", "Alvarez", "Andersen", "Bakker", "Banerjee", "Barros", "Bergstrom", "Brandt",
    "Calloway", "Carvalho", "Castell", "Chowdhury", "Costa", "Dalton", "Delacroix", "Dimitrov",
    "Dunmore", "Eklund", "Esposito", "Falk", "Ferreira", "Fontaine", "Galloway", "Greco",
    "Halvorsen", "Hartley", "Hoffmann", "Ibarra", "Ivanova", "Jansen", "Kaplan", "Kaur",
    "Kowalski", "Kramer", "Lambert", "Lindqvist", "Lozano", "Mahler", "Marchetti", "Mendez",
    "Moreau", "Nakamura", "Navarro", "Nilsen", "Novak", "Okafor", "Oliveira", "Ortega", "Osei",
    "Pacheco", "Petrov", "Quintero", "Radcliffe", "Ramos", "Reyes", "Rinaldi", "Rossi", "Sato",
    "Schuster", "Serrano", "Sharma", "Silva", "Sorensen", "Stratton", "Takahashi", "Tanaka",
    "Thornbury", "Toivonen", "Ueda", "Valdez", "Varga", "Vasquez", "Vidal", "Voss", "Wakefield",
    "Whitlock", "Winslow", "Yamada", "Yilmaz", "Zamora", "Zeller", "Zielinski", "Ashdown",
    "Blackwood", "Crane", "Draper", "Ellery", "Fairbanks", "Gilmore", "Holloway", "Ingram",
    "Jessup", "Kendrick", "Lockhart", "Merriman", "Norwood", "Pemberton", "Rutledge",
)

CITIES = (
    "Alderbury", "Ashford", "Bellmont", "Brightwater", "Cedarville", "Clearfield", "Crestview",
    "Dunmore", "Eastbrook", "Elmstead", "Fairhaven", "Foxborough", "Glenwood", "Greenfield",
    "Harborview", "Hillcrest", "Ironwood", "Kingsbridge", "Lakemont", "Larchmont", "Maplewood",
    "Marlow", "Meadowbrook", "Millbrook", "Northgate", "Oakridge", "Pinehurst", "Redmond Falls",
    "Riverton", "Rosedale", "Shelbourne", "Silverlake", "Southwick", "Stonebridge", "Thornbury",
    "Westfield", "Whitby", "Willowdale", "Windham", "Yarrow",
)

STREET_WORDS = (
    "Alder", "Ash", "Aspen", "Beacon", "Birch", "Briar", "Cedar", "Chestnut", "Clover", "Cypress",
    "Elm", "Fern", "Foxglove", "Garnet", "Hawthorn", "Hazel", "Heather", "Holly", "Juniper",
    "Laurel", "Linden", "Magnolia", "Maple", "Meadow", "Mulberry", "Oak", "Orchard", "Pine",
    "Poplar", "Quarry", "Rowan", "Sage", "Spruce", "Sycamore", "Thistle", "Walnut", "Willow",
    "Wisteria", "Yew", "Harbor",
)

US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY",
)

# Words of an address kept as they are: street types, unit words, directions.
STREET_KEEP = frozenset("""
street st avenue ave road rd boulevard blvd lane ln drive dr court ct way place pl terrace ter
circle cir parkway pkwy highway hwy square sq trail trl crescent cres close row loop alley plaza
path pike run walk mews gardens green hill hills park ridge view point pt crossing expressway
freeway turnpike junction landing manor meadow meadows mill mills orchard pass port ports
prairie ranch rapids rest shore shores spring springs station stream summit trace track union
valley vista village ville wall well wells estate estates fields forest forge fork forks garden
gateway glen grove harbor haven heights island isle knoll lake lakes light lights lock locks
mission motorway mount mountain neck oval route spur tunnel burg bypass camp canyon cape
causeway center centre cliff club common corner corners course cove creek crest curve dale dam
divide extension falls ferry flat flats ford fort bridge brook bluff bend beach branch arcade
apt apartment suite ste unit floor fl room rm n s e w ne nw se sw north south east west po box
p o rue avenue boulevard bd chemin allée impasse quai calle avenida via viale piazza rua de la
le du des del bis ter
""".split())
