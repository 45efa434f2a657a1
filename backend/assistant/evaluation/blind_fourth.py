"""A fourth set, all roles: written independently of the first three, without reading the rules,
as paraphrases of the kinds of question outside testers had seen missed. Scored blind before any
change it prompted: 114 of 123 (92.7%) offline, 5 confident wrong; the misses were fixed in the
rules, not in the questions."""

from __future__ import annotations

from backend.assistant.evaluation import WEEKDAY, Case

CANT = "can't find | cannot find | couldn't find"

PARENTS = (
    # 1. one subject's marks, latest score, average
    Case("parent7", "grades", "how's {child} getting on in {subject}", ("{average}",)),
    Case("parent12", "grades", "hows {child_lower} doing in english??", ("{average}",)),
    Case("parent3", "grades", "{child}'s {other_subject} results", ("{other_subject}",), ("{subject} test",)),
    Case("parent33", "grades", "{child} {other_subject} marks", ("{other_subject}",), ("{subject} test",)),
    Case("parent25", "grades", "what did {child} get on the last test", ("{latest_score}",)),
    Case("parent8", "grades", "latest {subject} score pls", ("{latest_score}",)),
    Case("parent40", "grades", "how did {child} do in {latest}?", ("{latest_score}",)),
    Case("parent15", "grades", "whats {child}s average", ("{average}",)),
    Case(
        "parent20",
        "grades",
        "Hi, sorry to bother you. Could you tell me what my daughter's average mark is this term? "
        "I keep forgetting to check.",
        ("{average}",),
    ),
    Case("parent9", "grades", "grades", ("{average}",)),
    Case("parent14", "grades", "is {child} doing ok in {subject}? bit worried", ("{average}",)),
    # 2. who teaches
    Case("parent5", "classes", "who teaches {child}?", ("{teacher}",)),
    Case("parent6", "classes", "whos my sons teacher", ("{teacher}",)),
    Case("parent11", "classes", "who takes {child} for {subject}", ("{teacher}",)),
    Case("parent16", "classes", "what class is {child} in and who's the teacher", ("{class}", "{teacher}")),
    # 3. contact details
    Case("parent2", "account|help", "i've got a new phone number, how do i update it", ("school office",)),
    Case(
        "parent18", "account|help", "We've moved house - where do I change our address?", ("school office",)
    ),
    Case("parent21", "account|help", "how do i change my email", ("school office",)),
    Case(
        "parent22", "account|help", "my name is spelt wrong on my account can it be fixed", ("school office",)
    ),
    # 5. help / overview
    Case("parent4", "help", "help", kind="overview"),
    Case("parent10", "help", "what can you do?", kind="overview"),
    Case("parent13", "help", "hello", kind="overview"),
    Case("parent17", "help", "what sort of things can i ask u", kind="overview"),
    # 7. calendar
    Case("parent19", "calendar", "is there school on saturday", ("no school",)),
    Case("parent23", "calendar", "is school open on the 23rd of december?", ("no school",)),
    Case("parent24", "calendar", "when does term end", ("18 December",)),
    Case("parent26", "calendar", "when is half term", ("16 February",)),
    Case("parent27", "calendar", "is there school tomorrow", (WEEKDAY,)),
    Case("parent28", "calendar", "school on monday?", (WEEKDAY,)),
    Case("parent29", "calendar", "when do they go back after christmas", ("5 January",)),
    Case("parent30", "calendar", "is 28 december a school day", ("no school",)),
    # 8. admission numbers
    Case("parent7", "attendance", "{adm} attendance", ("{rate}",)),
    Case("parent31", "grades|attendance", "how's d031 doing this term", ("{average}",)),
    Case("parent35", "grades", "{adm_compact} grades", ("{average}",)),
    Case("parent1", "grades", "d001 latest test", ("{latest_score}",)),
    Case("parent7", "attendance", "{other_adm} attendance", (CANT,), ("{other_full}",), kind="not_found"),
    # 9. names
    Case("parent37", "grades|attendance", "how is {child_typo} doing at school", ("{average}",)),
    Case("parent38", "attendance", "{child_lower} attendance", ("{rate}",)),
    Case("parent39", "attendance", "{child}s attendance this term", ("{rate}",)),
    Case("parent41", "attendance", "{child_last} attendance", ("{rate}",)),
    Case("parent42", "attendance", "was {child} in school today?", ("{today_mark}",)),
    Case("parent44", "grades", "{other_first}'s grades", (CANT,), kind="not_found"),
    Case("parent45", "attendance", "{other_full} attendance", (CANT,), kind="not_found"),
    Case("parent43", "fees", "how much do i owe", ("{balance}",)),
    # whole-class figures are refused for parents
    Case("parent57", "grades", "whats the average for {child}'s whole class", kind="refused"),
    Case("parent58", "attendance", "which kids have the worst attendance in {child}'s class", kind="refused"),
    # 10. policies, how-to, off-topic
    Case("parent46", "policies", "whats the uniform", ("navy jumper",)),
    Case("parent47", "policies", "what time does school start", ("8:45",)),
    Case("parent48", "policies", "can my kid bring a phone to school", ("handed in",)),
    Case(
        "parent49",
        "policies|health|help",
        "my son needs his inhaler at school what do i do",
        ("consent form",),
    ),
    Case("parent50", "policies|help", "how do i report an absence", ("9:00",)),
    Case("parent51", "policies|help|attendance", "my daughter is sick today who do i tell", ("9:00",)),
    Case("parent52", "policies|help|fees", "how can I pay the fees", ("bank transfer",)),
    Case("parent55", "policies", "What time is pick up?", ("15:15",)),
    Case("parent56", "policies", "breakfast club time?", ("7:45",)),
    Case("parent53", "unknown", "whats the weather tomorrow", kind="clarify"),
    Case("parent54", "unknown", "can you recommend a good recipe for lasagne", kind="clarify"),
)

TEACHERS = (
    # 4. class figures
    Case("teacher1", "grades", "whats the class average", ("{class_average}",)),
    Case("teacher2", "grades", "average for {my_subject}?", ("{class_average}",)),
    Case("teacher1", "grades", "what's the average in my maths class", ("{class_average}",)),
    Case(
        "teacher1",
        "grades",
        "class average for year 5 english",
        (CANT,),
        ("class average",),
        kind="not_found",
    ),
    Case("teacher1", "attendance", "who has the lowest attendance", ("{lowest_rate_student}",)),
    Case(
        "teacher2",
        "attendance",
        "which pupil has the worst attendance in my class",
        ("{lowest_rate_student}",),
    ),
    Case(
        "teacher1",
        "attendance",
        "who was absent today",
        ("{my_class}, absent today | nobody was absent today",),
    ),
    Case("teacher2", "attendance", "who was off yesterday", ("{my_class}",), ("{other_class}",)),
    Case("teacher1", "grades", "any missing grades?", ("no missing",)),
    Case("teacher2", "grades", "are there any missing marks in my class", ("no missing",)),
    Case("teacher1", "classes|enrollment", "how many kids in my class", ("{class_size}",)),
    Case("teacher2", "classes", "class size", ("{class_size}",)),
    Case("teacher1", "attendance", "what's the attendance rate for my class", ("{class_rate}",)),
    # students by name / number
    Case("teacher1", "grades", "how is {student} getting on in maths", ("{student_average}",)),
    Case("teacher2", "grades", "{student}'s latest score", ("{student_latest_score}",)),
    Case("teacher2", "grades", "{student_lower} grades", ("{student_average}",)),
    Case("teacher1", "attendance", "{student_typo} attendance", ("{student_rate}",)),
    Case("teacher1", "attendance", "d027 attendance", ("{student_rate}",)),
    Case("teacher2", "enrollment|grades|attendance|classes", "show me {student_adm}", ("{student_full}",)),
    Case("teacher1", "grades", "{student_last} grades", ("{student_average}",)),
    Case("teacher2", "attendance", "{student}s attendance", ("{student_rate}",)),
    Case("teacher1", "grades", "{not_mine_full} grades", (CANT,), kind="not_found"),
    Case("teacher2", "attendance", "{not_mine_adm} attendance", (CANT,), kind="not_found"),
    # fees refused
    Case("teacher1", "fees", "how much does {student} owe in fees", kind="refused", must_not=("£",)),
    Case("teacher2", "fees", "which parents haven't paid yet", kind="refused", must_not=("£",)),
    # help, how-to, account
    Case("teacher1", "help", "help", kind="overview"),
    Case("teacher2", "help", "hi there", kind="overview"),
    Case("teacher1", "help|policies", "how do i take the register", ("save | ten minutes",)),
    Case("teacher2", "help", "how do I publish grades to parents", ("published",)),
    Case("teacher1", "account|help", "i need to update my phone number", ("school office",)),
    Case("teacher2", "account|help", "how do I change my email address", ("school office",)),
    # calendar, policies
    Case("teacher2", "calendar", "is there school on the 22nd december", ("no school",)),
    Case("teacher1", "calendar", "when does half term start", ("16 February",)),
    Case("teacher2", "policies", "What's the mobile phone rule for pupils?", ("handed in",)),
)

ADMINS = (
    # 6. counts, lookups
    Case("admin", "enrollment|classes", "how many students are there", ("{student_count}",)),
    Case("admin", "enrollment|classes", "no. of pupils in the school?", ("{student_count}",)),
    Case("admin", "classes", "how many classes", ("Year 5 Maths", "Year 5 English")),
    Case("admin", "classes|enrollment|account", "how many teachers do we have", ("Teacher 1", "Teacher 2")),
    Case("admin", "enrollment|grades|attendance|classes", "show me {student_adm}", ("{student_full}",)),
    Case("admin", "enrollment|grades|attendance|classes", "{student_adm_compact}", ("{student_full}",)),
    Case("admin", "grades|attendance", "how is {student_full} doing", ("{student_average}",)),
    Case("admin", "grades|attendance", "how's {student_lower} getting on", ("{student_average}",)),
    Case("admin", "grades", "{student_typo} grades", ("{student_average}",)),
    Case("admin", "grades", "{student_last}'s average", ("{student_average}",)),
    Case("admin", "attendance", "what's {student}'s attendance", ("{student_rate}",)),
    Case("admin", "fees", "{student_adm} fees", ("{student_balance}",)),
    Case("admin", "health", "d007 allergies", ("Peanuts",)),
    Case("admin", "attendance", "attendance rate for year 5 maths", ("{maths_rate}",)),
    Case("admin", "attendance", "what is the english class's attendance", ("{english_rate}",)),
    Case("admin", "attendance", "who has the lowest attendance in the school", ("{lowest_rate_student}",)),
    Case("admin", "attendance", "lowest attendance in year 5 english", ("{english_lowest_rate_student}",)),
    Case("admin", "grades", "average for year 5 english", ("{english_average}",)),
    Case("admin", "grades", "maths class average", ("{maths_average}",)),
    Case("admin", "fees", "how many families are overdue", ("{overdue_count}",)),
    # 2. who teaches
    Case("admin", "classes", "who teaches year 5 maths", ("{maths_teacher}",)),
    Case("admin", "classes", "who's the english teacher", ("{english_teacher}",)),
    Case("admin", "classes", "who teaches {student_full}", ("{maths_teacher}",)),
    # 3. / 10. how-to
    Case("admin", "help", "how do I add a new teacher account", ("add user",)),
    Case("admin", "help|guardians", "how do i link a parent to a student", ("link parent",)),
    Case(
        "admin",
        "help|account",
        "a parent changed her surname, how do I update it on her account",
        ("open the user",),
    ),
    Case("admin", "help|account", "how do I change a teacher's email address", ("new account",)),
    # 5. overview
    Case("admin", "help", "help", kind="overview"),
    Case("admin", "help", "what can i ask you", kind="overview"),
    # 7. calendar, off-topic
    Case("admin", "calendar", "is there school on boxing day", ("no school",)),
    Case("admin", "calendar", "when does the spring term start", ("5 January",)),
    Case("admin", "unknown", "tell me a joke", kind="clarify"),
)

CASES: tuple[Case, ...] = (*PARENTS, *TEACHERS, *ADMINS)
